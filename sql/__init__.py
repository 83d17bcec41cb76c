"""SQL shipped with execution-lake: ddl/ (generated), views/, queries/."""
from pathlib import Path

SQL_DIR = Path(__file__).parent
