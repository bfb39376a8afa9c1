from vam.core.ranges import Range, id_key, parse_range, range_for

REAL = ["a01-a49", "a50-a99", "b00-b49", "b50-b99", "-01-25"]


def test_real_range_names_parse_as_intervals():
    assert parse_range("a01-a49") == Range("a", 1, 49, "a01-a49")
    assert parse_range("b50-b99") == Range("b", 50, 99, "b50-b99")
    assert parse_range("-01-25") == Range("", 1, 25, "-01-25")
    assert parse_range("b00-b49").contains("b", 0)


def test_non_ranges_are_not_ranges():
    for name in ["b65-guy-monroe", "a01-b49", "notes", "b99-b50", ""]:
        assert parse_range(name) is None, name


def test_ids_have_a_letter_and_number():
    assert id_key("b65-guy-monroe-marketing-plan") == ("b", 65)
    assert id_key("006-ac-carnivore-90") == ("", 6)
    assert id_key("boy-baker") is None


def test_existing_folder_that_contains_the_id_wins():
    assert range_for("a03-intro", REAL) == "a01-a49"
    assert range_for("b65-x", REAL) == "b50-b99"
    assert range_for("b00-x", REAL) == "b00-b49"
    assert range_for("006-ac-carnivore-90", REAL) == "-01-25"


def test_new_range_only_when_none_contains_the_id():
    assert range_for("c12-new", REAL) == "c00-c49"
    assert range_for("c77-new", REAL) == "c50-c99"
    assert range_for("a00-zero", REAL) == "a00-a49"  # a01-a49 does not contain 0
    assert range_for("030-legacy", REAL) == "00-49"


def test_storyline_names_have_no_range():
    assert range_for("boy-baker", REAL) is None
