"""The exception tree: one base, fork110.Error, under every exception class the package defines."""

from __future__ import annotations

import doctest
import pickle

import pytest

from fork110 import Command, Error, ExitStatus, ExitStatusError, PreExecError, WaitTimeout
from fork110.demos._c import CompileError
from fork110.sandbox import SandboxError


@pytest.mark.parametrize(
    ("cls", "standard"),
    [
        (ExitStatusError, Exception),
        (WaitTimeout, TimeoutError),
        (PreExecError, RuntimeError),
        (SandboxError, RuntimeError),
        (CompileError, RuntimeError),
    ],
)
def test_every_exception_class_is_an_error_and_keeps_its_standard_base(
    cls: type[Exception], standard: type[Exception]
) -> None:
    assert issubclass(cls, Error) and issubclass(cls, standard)


def test_every_exception_class_in_the_package_is_in_the_tree() -> None:
    import fork110.demos._c
    import fork110.sandbox

    found = {
        obj
        for module in (fork110, fork110.sandbox, fork110.demos._c)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseException)
        and not issubclass(obj, Warning) and obj.__module__.startswith("fork110")
    }  # fmt: skip
    assert found and all(issubclass(cls, Error) for cls in found), found


def test_a_real_failure_is_caught_as_fork110_error() -> None:
    with pytest.raises(Error) as info:
        Command("false").status().exit_ok()
    assert isinstance(info.value, ExitStatusError)
    with pytest.raises(TimeoutError), Command("sleep").arg("5").spawn() as child:
        child.wait(timeout=0.01)


def test_errors_show_as_fork110_names_and_survive_pickling() -> None:
    err = ExitStatusError(ExitStatus.from_raw(3 << 8))
    assert repr(type(err)) == "<class 'fork110.ExitStatusError'>"
    assert isinstance(pickle.loads(pickle.dumps(err)), ExitStatusError)
    assert pickle.loads(pickle.dumps(WaitTimeout(1, 0.5))).pid == 1


def test_methods_doctests_are_still_found_after_renaming_the_module() -> None:
    import fork110._command

    names = {t.name for t in doctest.DocTestFinder().find(fork110._command)}
    assert "fork110._command.__test__.Command.spawn" in names
    assert "fork110._command.__test__.Command.output" in names
