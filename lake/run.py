"""A finished backtest run: its id, summary, four tables, config and log; the experiment it belongs to, its tags
and parameters."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Union

import pyarrow as pa

from lake.errors import InvalidExperimentError, InvalidRunIdError, InvalidTagsError

if TYPE_CHECKING:
    import pandas

TableLike = Union[pa.Table, "pandas.DataFrame"]

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LABEL_JUNK = re.compile(r"[^A-Za-z0-9._-]+")
_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_TAG_CHARS = 1024


class RunId(str):
    """A str that has passed check_run_id: key builders take it without checking again."""

    __slots__ = ()


def check_run_id(run_id: object) -> RunId:
    """Return run_id if it may name a run, else raise InvalidRunIdError.

    The rule keeps run ids safe as one path segment everywhere (local folders,
    GCS object names, Hive partition values): letters, digits, '.', '_' and '-',
    starting with a letter or digit, at most 128 characters, and no '..'.
    """
    return RunId(_check_name(run_id, "run_id", InvalidRunIdError))


def check_experiment(experiment: object) -> str | None:
    """Return the experiment name (None: the run belongs to none), or raise InvalidExperimentError.

    An experiment is named by the run_id rule, so that it is safe wherever a run_id is.
    """
    return None if experiment is None else _check_name(experiment, "experiment", InvalidExperimentError)


def _check_name(value: object, field: str, error: type[Exception]) -> str:
    if not isinstance(value, str):
        raise error(f"{field} must be a string, got {type(value).__name__}")
    if not _RUN_ID.fullmatch(value):
        raise error(f"invalid {field} {value!r}: expected 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit")
    if ".." in value:
        raise error(f"invalid {field} {value!r}: '..' is not allowed")
    return value


def check_tags(tags: object) -> dict[str, str] | None:
    """Return the tags as a plain dict (None: no tags), or raise InvalidTagsError naming the tag.

    Tags are a flat mapping of names (1-64 characters of [A-Za-z0-9._-], starting with a letter or digit)
    to text (at most 1024 characters, no control characters). They are written in the clear, so a tag
    that looks like a secret is refused by the writer's redaction rules (a secret-looking name, or a
    password inside the text); the message never shows the value.
    """
    if tags is None:
        return None
    from lake.write.redact import is_secret_key, is_unicode, redact_text  # lake.write imports this module

    if not isinstance(tags, Mapping):
        raise InvalidTagsError(f"tags must be a mapping of tag name -> text, got {type(tags).__name__}")
    out: dict[str, str] = {}
    for name, value in tags.items():
        if not isinstance(name, str) or not _TAG_NAME.fullmatch(name):
            raise InvalidTagsError(
                f"invalid tag name {name!r}: expected 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit"
            )
        if not isinstance(value, str):
            raise InvalidTagsError(f"tag {name!r}: the value must be text, got {type(value).__name__} (tags are flat: name -> text)")
        if is_secret_key(name):
            raise InvalidTagsError(f"tag {name!r} looks like a secret; tags are written in the clear, so it is refused")
        if len(value) > MAX_TAG_CHARS:
            raise InvalidTagsError(f"tag {name!r}: the value has {len(value)} characters, more than {MAX_TAG_CHARS}")
        if _CONTROL.search(value) or not is_unicode(value):
            raise InvalidTagsError(f"tag {name!r}: the value holds a control character or is not valid Unicode")
        if redact_text(value, set()) != value:
            raise InvalidTagsError(f"tag {name!r}: the value holds a password or token; tags are written in the clear, so it is refused")
        out[name] = value
    return out


def new_run_id(label: str | None = None, started: dt.datetime | None = None) -> RunId:
    """The one run-id maker: sortable and readable, unique without coordination.

    `{UTC start %Y%m%dT%H%M%S}Z-{label}-{8 hex of a uuid4}`; the label is
    cleaned to the run_id alphabet and cut to 60 characters.
    """
    started = (started or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    label = _LABEL_JUNK.sub("-", label or "")[:60].strip("-._") or "run"
    return check_run_id(f"{started:%Y%m%dT%H%M%S}Z-{label}-{uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Run:
    """Everything one backtest produced.

    Tables may be pandas DataFrames or pyarrow Tables with the contract's columns
    (see schemas/); they are checked by write_run, all at once. `config` is the
    backtest configuration (secrets are redacted when written), `log` the
    execution log as text or bytes.

    `experiment` names the sweep the run belongs to (the run_id rule), `tags` are
    free labels (name -> text, checked here), and `params` the settings that decided
    the result, flat: {"<strategy_id>.<field>": value} (from_nautilus fills them from
    the engine; the writer checks them and redacts secrets). The three land in the
    runs row: experiment, tags_json, params_json.
    """

    run_id: str
    summary: dict[str, Any]
    orders: TableLike
    fills: TableLike
    positions: TableLike
    equity_curve: TableLike
    config: dict[str, Any] | None = None
    log: str | bytes | None = None
    experiment: str | None = None
    tags: Mapping[str, str] | None = None
    params: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_id", check_run_id(self.run_id))
        object.__setattr__(self, "experiment", check_experiment(self.experiment))
        object.__setattr__(self, "tags", check_tags(self.tags))

    def tables(self) -> dict[str, TableLike]:
        return {
            "orders": self.orders,
            "fills": self.fills,
            "positions": self.positions,
            "equity_curve": self.equity_curve,
        }
