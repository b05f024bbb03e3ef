import pytest

from perception_r1.registry import Registry, UnknownNameError, did_you_mean, import_target


def test_lazy_target_is_imported_on_first_get():
    reg = Registry("thing")
    reg.register("path", "pathlib:Path")
    from pathlib import Path

    assert reg.get("path") is Path
    assert reg.names() == ["path"] and "path" in reg and len(reg) == 1


def test_decorator_registration_and_duplicates():
    reg = Registry("thing")

    @reg.register("f")
    def f():
        return 1

    assert reg.get("f") is f
    with pytest.raises(ValueError, match="already registered"):
        reg.register("f", f)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("accuray", "did you mean 'accuracy'"),  # typo gets a suggestion
        ("zzz", "known: accuracy, format"),  # nothing close: only the list
    ],
)
def test_unknown_name_error(name, fragment):
    reg = Registry("reward")
    reg.register("accuracy", "builtins:int")
    reg.register("format", "builtins:str")
    with pytest.raises(UnknownNameError) as info:
        reg.get(name)
    assert fragment in str(info.value)


def test_non_lazy_registry_keeps_strings():
    reg = Registry("template", lazy_strings=False)
    reg.register("t", "^a$")
    assert reg.get("t") == "^a$"


def test_bad_lazy_target():
    reg = Registry("thing")
    reg.register("bad", "no_colon_here")
    with pytest.raises(ValueError, match="module:attribute"):
        reg.get("bad")


def test_did_you_mean_empty_when_nothing_close():
    assert did_you_mean("qqq", ["alpha"]) == ""


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("pathlib:Path", "Path"),  # module and attribute
        ("os.path:join", "join"),  # dotted module
        ("pathlib:Path.home", "home"),  # dotted attribute path
    ],
)
def test_import_target(target, expected):
    assert import_target(target).__name__ == expected


@pytest.mark.parametrize(
    ("target", "error", "fragment"),
    [
        ("pathlib", ValueError, "module:attribute"),  # no attribute part
        (":Path", ValueError, "module:attribute"),  # no module part
        ("no_such_module_xyz:f", ImportError, "no_such_module_xyz"),  # a module that does not exist
        ("pathlib:NoSuchThing", AttributeError, "NoSuchThing"),  # an attribute that does not exist
    ],
)
def test_import_target_errors(target, error, fragment):
    with pytest.raises(error, match=fragment):
        import_target(target)
