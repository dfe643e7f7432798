"""One diff of two package sets, spelled two ways: 'pyenvmod history' and the summaries of
install/update (and of changes made outside pyenvmod)."""

from pyenvmod.packages import outside
from pyenvmod.records import history, package_diff

BEFORE = {"numpy": "1.26.4", "six": "1.16.0", "idna": "3.7", "same": "1.0"}
AFTER = {"numpy": "2.1.0", "idna": "3.7", "same": "1.0", "certifi": "2024.8.30"}


def test_the_diff_lists_added_removed_and_changed_packages_by_name_in_the_spelling_given():
    spelling = {package_diff.ADDED: "A {name} {old} {new}", package_diff.REMOVED: "R {name} {old} {new}",
                package_diff.CHANGED: "C {name} {old} {new}"}
    assert package_diff.changes(BEFORE, AFTER, spelling) == [
        "A certifi None 2024.8.30", "C numpy 1.26.4 2.1.0", "R six 1.16.0 None"]
    assert package_diff.changes(AFTER, AFTER, spelling) == []
    assert package_diff.changes({}, {}, spelling) == []


def test_history_spells_pins():
    assert history.changes(BEFORE, AFTER) == ["+certifi==2024.8.30", "numpy 1.26.4 -> 2.1.0", "-six==1.16.0"]
    assert history.changes({}, {"b": "2", "a": "1"}) == ["+a==1", "+b==2"]


def test_summaries_spell_words_and_compare_normalised_names_and_versions():
    assert outside.describe(BEFORE, AFTER) == ["added certifi 2024.8.30", "numpy 1.26.4 -> 2.1.0",
                                               "removed six 1.16.0"]
    # pip, uv and METADATA spell names and versions differently: not a change
    assert outside.describe({"Typing_Extensions": "v4.12.0"}, {"typing-extensions": "4.12.00"}) == []
    assert outside.describe({"A.B": "01.0"}, {"a-b": "2"}) == ["a-b 1.0 -> 2"]
