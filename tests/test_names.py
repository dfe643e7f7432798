import pytest

from pyenvmod.records import names
from pyenvmod.errors import PyenvmodError

GOOD = ["a", "mylab", "ML_2024", "tools-v1.2", "c++", "x" * 64, "9lives", "_private"]
BAD = ["", ".hidden", "-rf", "a/b", "a b", "x" * 65, "ä", "a;b", "$(x)", "a\nb", "..", "a:b", "a*"]


@pytest.mark.parametrize("name", GOOD)
def test_valid_names_pass(name):
    assert names.validate(name) == name


@pytest.mark.parametrize("name", BAD)
def test_invalid_names_are_refused_with_the_rule(name):
    with pytest.raises(PyenvmodError) as exc:
        names.validate(name)
    assert "letters, digits and . _ + -" in exc.value.message
    assert "\n" not in exc.value.message
