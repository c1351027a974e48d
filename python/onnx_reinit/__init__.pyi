# Type hints for onnx_reinit (see __init__.py for the documentation).
import os
from typing import Any, Iterable, TypeVar

import onnx

__version__: str

class ModelError(ValueError): ...

_Path = str | os.PathLike[str]
_Model = onnx.ModelProto | bytes | bytearray | memoryview
_Report = dict[str, Any]

_M = TypeVar("_M", onnx.ModelProto, bytes)

def reinitialize(model: _M, scheme: str | None = ..., *, seed: int | None = ..., threads: int | None = ...,
                 rules: str | Iterable[str] | None = ..., recipe: _Path | None = ..., only: str | None = ...,
                 exclude: str | None = ..., bias: str | None = ..., embedding: str | None = ...,
                 rnn_recurrence: str | None = ..., lstm_forget_bias: float | None = ...,
                 convtranspose_fan: str | None = ..., mode: str | None = ..., nonlinearity: str | None = ...,
                 negative_slope: float | None = ..., gain: float | None = ..., value: float | None = ...,
                 mean: float | None = ..., std: float | None = ..., low: float | None = ...,
                 high: float | None = ..., preset: str | None = ..., initializer_range: float | None = ...,
                 dry_run: bool | None = ..., statistics: bool = ...,
                 **options: Any) -> tuple[_M, _Report]: ...
def reinitialize_file(src: _Path, dst: _Path, scheme: str | None = ..., *, external_data: bool | None = ...,
                      size_threshold: int | None = ..., embed: bool | None = ..., materialize: bool | None = ...,
                      statistics: bool = ..., report: _Path | None = ..., **options: Any) -> _Report: ...
def strip_file(src: _Path, dst: _Path, scheme: str | None = ..., **options: Any) -> _Report: ...
def stats(model: _Model | _Path, scheme: str | None = ..., *, threads: int = ..., histogram: bool = ..., hash: bool = ...,
          **scheme_parameters: Any) -> list[dict[str, Any]]: ...

class VerifyResult:
    report: _Report
    weights: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    unjudged: list[dict[str, Any]]
    github_annotations: str
    def __init__(self, report: _Report) -> None: ...
    def __bool__(self) -> bool: ...

def verify(model: _Model | _Path, scheme: str | None = ..., *, preset: str | None = ...,
           initializer_range: float | None = ..., tolerance: float | None = ..., threads: int = ...,
           junit: _Path | None = ..., **scheme_parameters: Any) -> VerifyResult: ...
def diff(a: _Model | _Path, b: _Model | _Path, *, threads: int = ...) -> _Report: ...
