"""SQL shipped with execution-lake: ddl/ and views/ (generated), queries/ (for analysts), commands/ (run by lake commands)."""
from pathlib import Path

SQL_DIR = Path(__file__).parent
