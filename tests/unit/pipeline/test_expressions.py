"""The #{...} language: parsing, functions, lists, and errors that say where.

The function table is the Developer Guide's, with ``myDateTime`` = May 24, 2011 5:10 pm
UTC; results are written in the DateTime text form (the guide's own results are
informal, such as ``"2011-05-24T0:00:00z"``).
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.expressions import (
    ExpressionError,
    MappingScope,
    ResolveError,
    Template,
    Value,
)

MY = datetime(2011, 5, 24, 17, 10, tzinfo=UTC)
SCOPE = MappingScope(
    {
        "myDateTime": MY,
        "myLaterDateTime": datetime(2011, 5, 25, 17, 10, tzinfo=UTC),
        "myList": ("one", "two"),
        "myNumbers": (1, 2),
        "myText": "abc",
        "myDays": "3",
        "myRatio": Decimal("0.25"),
        "output.directoryPath": "s3://bucket/folder",
    }
)


def render(text: str) -> str:
    return Template.parse(text).render(SCOPE)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("day(myDateTime)", "24"),
        ("dayOfYear(myDateTime)", "144"),
        ("firstOfMonth(myDateTime)", "2011-05-01T17:10:00"),
        ("format(myDateTime,'YYYY-MM-dd HH:mm:ss z')", "2011-05-24 17:10:00 UTC"),
        ("hour(myDateTime)", "17"),
        ("makeDate(2011,5,24)", "2011-05-24T00:00:00"),
        ("makeDateTime(2011,5,24,14,21)", "2011-05-24T14:21:00"),
        ("midnight(myLaterDateTime)", "2011-05-25T00:00:00"),
        ("minusDays(myDateTime,1)", "2011-05-23T17:10:00"),
        ("minusHours(myDateTime,1)", "2011-05-24T16:10:00"),
        ("minusMinutes(myDateTime,1)", "2011-05-24T17:09:00"),
        ("minusMonths(myDateTime,1)", "2011-04-24T17:10:00"),
        ("minusWeeks(myDateTime,1)", "2011-05-17T17:10:00"),
        ("minusYears(myDateTime,1)", "2010-05-24T17:10:00"),
        ("minute(myDateTime)", "10"),
        ("month(myDateTime)", "5"),
        ("plusDays(myDateTime,1)", "2011-05-25T17:10:00"),
        ("plusHours(myDateTime,1)", "2011-05-24T18:10:00"),
        ("plusMinutes(myDateTime,1)", "2011-05-24T17:11:00"),
        ("plusMonths(myDateTime,1)", "2011-06-24T17:10:00"),
        ("plusWeeks(myDateTime,1)", "2011-05-31T17:10:00"),
        ("plusYears(myDateTime,1)", "2012-05-24T17:10:00"),
        ("sunday(myDateTime)", "2011-05-22T17:10:00"),
        ("year(myDateTime)", "2011"),
        ("yesterday(myDateTime)", "2011-05-23T17:10:00"),
        # The guide's nested example, and the string function.
        ("format(minusMinutes(myDateTime,30),'YYYY-MM-dd hh:mm:ss')", "2011-05-24 04:40:00"),
        ('"hel" + "lo"', "hello"),
    ],
)
def test_developer_guide_functions(expression: str, expected: str) -> None:
    assert render("#{" + expression + "}") == expected


def test_sunday_of_a_sunday_is_the_same_day() -> None:
    assert render("#{sunday(minusDays(myDateTime,2))}") == "2011-05-22T17:10:00"


def test_plus_months_clamps_the_day() -> None:
    assert render("#{plusMonths(makeDate(2011,1,31),1)}") == "2011-02-28T00:00:00"


def test_plus_with_a_negative_amount_goes_back() -> None:
    assert render("#{plusDays(myDateTime,-1)}") == "2011-05-23T17:10:00"
    assert render("#{minusDays(myDateTime,-1)}") == "2011-05-25T17:10:00"


def test_arguments_are_converted_from_their_text() -> None:
    assert render("#{plusDays(myDateTime, myDays)}") == "2011-05-27T17:10:00"
    assert render("#{day('2011-05-24T17:10:00')}") == "24"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("#{plusDays(myDateTime, 1.5)}", "plusDays() needs a whole number, not the number 1.5"),
        ("#{format(myDateTime, 3)}", "format() needs a string, not the number 3"),
        ("#{day('yesterday')}", "day() needs a DateTime, not the string 'yesterday'"),
        ("#{format(myDateTime, 'T')}", "format(): Illegal pattern component: T"),
        ("#{makeDate(2011,2,30)}", "makeDate(): day is out of range for month"),
    ],
)
def test_bad_arguments_name_the_function(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        Template.parse(text, object_id="Obj", field="f").render(SCOPE)
    assert caught.value.reason == reason
    assert caught.value.position == 3
    assert (caught.value.object_id, caught.value.field) == ("Obj", "f")


def test_plus_joins_non_strings_as_text_without_float() -> None:
    assert render("#{1 + 0.25}") == "10.25"
    assert render("#{'ratio ' + myRatio}") == "ratio 0.25"
    assert render("#{0.250}") == "0.250"
    assert render("#{'at ' + myDateTime}") == "at 2011-05-24T17:10:00"


def test_strings_in_both_quotes_with_backslash_escapes() -> None:
    assert render('#{"say \\"hi\\""}') == 'say "hi"'
    assert render("#{'it\\'s'}") == "it's"
    assert render("#{\"a}b\" + 'c,d'}") == "a}bc,d"


def test_text_around_several_expressions_and_plain_characters() -> None:
    text = "#{output.directoryPath}/#{format(myDateTime, 'YYYY-MM-dd-HH-mm-ss')} # } {#"
    assert render(text) == "s3://bucket/folder/2011-05-24-17-10-00 # } {#"


def test_spaces_and_parentheses() -> None:
    assert render("#{ format( myDateTime , 'HH' ) }") == "17"
    assert render("#{('a' + 'b') + ('c')}") == "abc"


def test_a_list_expands_element_by_element() -> None:
    template = Template.parse("#{'this is ' + myList}")
    assert template.render_all(SCOPE) == ("this is one", "this is two")
    assert Template.parse("x-#{myList}").render_all(SCOPE) == ("x-one", "x-two")


def test_two_lists_give_every_combination_in_order() -> None:
    assert Template.parse("#{myList}#{myNumbers}").render_all(SCOPE) == (
        "one1",
        "one2",
        "two1",
        "two2",
    )


def test_functions_map_over_lists() -> None:
    scope = MappingScope({"myDates": (MY, MY + timedelta(days=1))})
    assert Template.parse("#{day(myDates)}").render_all(scope) == ("24", "25")


def test_render_refuses_several_values() -> None:
    with pytest.raises(ExpressionError, match="gives 2 values where one is needed"):
        Template.parse("#{myList}").render(SCOPE)


def test_references_and_functions_are_listed() -> None:
    template = Template.parse(
        "#{myOutputS3Loc}/#{format(@scheduledStartTime, 'YYYY')}#{node.@id}#{output.directoryPath}"
    )
    assert template.references() == {
        "myOutputS3Loc",
        "@scheduledStartTime",
        "node.@id",
        "output.directoryPath",
    }
    assert template.functions() == {"format"}
    assert not template.is_literal


def test_text_without_expressions_is_literal() -> None:
    template = Template.parse("s3://bucket/#folder}")
    assert template.is_literal
    assert template.references() == frozenset()
    assert template.render(SCOPE) == "s3://bucket/#folder}"


def test_masked_parameter_names_are_names() -> None:
    assert Template.parse("#{*myPassword}").references() == {"*myPassword"}


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("#{format(@x,}", "expected a name, a string, a number or '(', found '}'", 13),
        ("#{foo(1)}", "unknown function foo()", 3),
        ("#{'abc}", "string is not closed: expected '", 3),
        ("#{a", "expected '}', found the end of the text", 4),
        ("#{}", "expected a name, a string, a number or '(', found '}'", 3),
        ("ok #{day(@x) x}", "expected '}', found 'x'", 14),
        ("#{day()}", "day() takes 1 arguments, not 0", 3),
        ("#{day(@x, 1)}", "day() takes 1 arguments, not 2", 3),
        ("#{a.}", "expected a name", 5),
        ("#{a + }", "expected a name, a string, a number or '(', found '}'", 7),
        ('#{"a\nb"}', 'string is not closed: expected "', 3),
    ],
)
def test_syntax_errors_name_object_field_and_position(
    text: str, reason: str, position: int
) -> None:
    with pytest.raises(ExpressionError) as caught:
        Template.parse(text, object_id="S3BackupLocation", field="directoryPath")
    error = caught.value
    assert (error.reason, error.position) == (reason, position)
    assert str(error) == (
        f"object 'S3BackupLocation', field 'directoryPath': {reason} at character {position}"
    )


def test_expression_error_is_a_config_error_and_pickles() -> None:
    error = ExpressionError("expected ')'", position=7, object_id="A", field="b")
    assert isinstance(error, ConfigError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.position, copy.object_id, copy.field) == ("expected ')'", 7, "A", "b")
    assert str(copy) == str(error)


def test_an_unknown_name_is_an_error_at_its_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        Template.parse("x #{nope}", object_id="O", field="f").render(SCOPE)
    assert caught.value.reason == "'nope' is not defined"
    assert caught.value.position == 5


class CountingScope:
    """A scope that counts lookups, to show a parsed template is reused as is."""

    def __init__(self) -> None:
        self.lookups = 0

    def resolve(self, name: tuple[str, ...]) -> Value:
        self.lookups += 1
        if name == ("@scheduledStartTime",):
            return MY + timedelta(days=self.lookups)
        raise ResolveError(f"{'.'.join(name)!r} is unknown")


def test_parse_once_render_many_times() -> None:
    template = Template.parse("#{format(@scheduledStartTime, 'dd')}")
    scope = CountingScope()
    assert [template.render(scope) for _ in range(3)] == ["25", "26", "27"]


@given(st.text(alphabet=st.characters(blacklist_characters="#"), max_size=40))
def test_text_without_hash_renders_as_itself(text: str) -> None:
    assert Template.parse(text).render(SCOPE) == text


@given(st.datetimes(timezones=st.just(UTC)).map(lambda value: value.replace(microsecond=0)))
def test_datetimes_read_back_through_the_text_form(value: datetime) -> None:
    scope = MappingScope({"myTime": value})
    assert Template.parse("#{year(myTime)}-#{month(myTime)}").render(scope) == (
        f"{value.year}-{value.month}"
    )


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
    ).map(lambda value: value.replace(microsecond=0)),
    st.integers(min_value=-5000, max_value=5000),
    st.sampled_from(["Minutes", "Hours", "Days", "Weeks"]),
)
def test_plus_and_minus_undo_each_other(value: datetime, amount: int, unit: str) -> None:
    scope = MappingScope({"myTime": value, "myAmount": amount})
    text = f"#{{minus{unit}(plus{unit}(myTime, myAmount), myAmount)}}"
    assert Template.parse(text).render(scope) == value.strftime("%Y-%m-%dT%H:%M:%S")
