"""Definitions in file and API form, converted as the AWS CLI's translator does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import (
    DefinitionError,
    Field,
    ParameterAttribute,
    ParameterObject,
    ParameterValue,
    PipelineDefinition,
    PipelineObject,
    definition_from_api,
    definition_from_file,
    definition_to_api,
    definition_to_file,
    load_definition,
)

PIPELINES = Path(__file__).resolve().parents[2] / "data" / "pipelines"
TEMPLATES = ["export-2017", "import-2017", "export-ondemand", "import-ondemand"]

FILE_FORM: dict[str, Any] = {
    "objects": [
        {"id": "Default", "scheduleType": "ondemand", "role": "DataPipelineDefaultRole"},
        {
            "id": "Node",
            "name": "Input node",
            "type": "S3DataNode",
            "precondition": [{"ref": "Ready"}, {"ref": "Exists"}],
            "directoryPath": "#{myDir}",
        },
    ],
    "parameters": [
        {"id": "myDir", "type": "AWS::S3::ObjectKey", "allowedValues": ["s3://a", "s3://b"]}
    ],
    "values": {"myDir": "s3://a", "myTags": ["x", "y"]},
}

API_FORM: dict[str, Any] = {
    "pipelineObjects": [
        {
            "id": "Default",
            "name": "Default",
            "fields": [
                {"key": "role", "stringValue": "DataPipelineDefaultRole"},
                {"key": "scheduleType", "stringValue": "ondemand"},
            ],
        },
        {
            "id": "Node",
            "name": "Input node",
            "fields": [
                {"key": "directoryPath", "stringValue": "#{myDir}"},
                {"key": "precondition", "refValue": "Ready"},
                {"key": "precondition", "refValue": "Exists"},
                {"key": "type", "stringValue": "S3DataNode"},
            ],
        },
    ],
    "parameterObjects": [
        {
            "id": "myDir",
            "attributes": [
                {"key": "allowedValues", "stringValue": "s3://a"},
                {"key": "allowedValues", "stringValue": "s3://b"},
                {"key": "type", "stringValue": "AWS::S3::ObjectKey"},
            ],
        }
    ],
    "parameterValues": [
        {"id": "myDir", "stringValue": "s3://a"},
        {"id": "myTags", "stringValue": "x"},
        {"id": "myTags", "stringValue": "y"},
    ],
}


def template_text(name: str) -> str:
    return (PIPELINES / f"{name}.json").read_text()


def test_file_form_becomes_the_cli_api_form() -> None:
    definition = definition_from_file(json.loads(json.dumps(FILE_FORM)))
    assert definition_to_api(definition) == API_FORM


def test_name_defaults_to_id_and_fields_sort_by_key() -> None:
    definition = definition_from_file({"objects": [{"id": "A", "zeta": "1", "alpha": "2"}]})
    assert definition.objects == (
        PipelineObject(
            "A", "A", (Field("alpha", string_value="2"), Field("zeta", string_value="1"))
        ),
    )


def test_api_form_folds_back_as_the_cli_does() -> None:
    folded = definition_to_file(definition_from_api(API_FORM))
    expected = json.loads(json.dumps(FILE_FORM))
    expected["objects"][0]["name"] = "Default"
    assert folded == expected


def test_api_fields_keep_their_order() -> None:
    unsorted = {
        "pipelineObjects": [
            {
                "id": "Schedule",
                "name": "Schedule",
                "fields": [
                    {"key": "startDateTime", "stringValue": "2012-12-12T00:00:00"},
                    {"key": "parent", "refValue": "Default"},
                    {"key": "type", "stringValue": "Schedule"},
                    {"key": "period", "stringValue": "1 hour"},
                ],
            }
        ]
    }
    assert definition_to_api(definition_from_api(unsorted)) == unsorted


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_round_trip_file_to_file(name: str) -> None:
    document = json.loads(template_text(name))
    assert definition_to_file(load_definition(template_text(name))) == document


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_round_trip_api_to_file_to_api(name: str) -> None:
    api = definition_to_api(load_definition(template_text(name)))
    again = definition_to_api(definition_from_file(definition_to_file(definition_from_api(api))))
    assert again == api
    assert json.loads(json.dumps(api)) == api


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_through_the_api_form_fold_one_element_lists_like_the_cli(name: str) -> None:
    """The API form cannot tell ``"step": ["x"]`` from ``"step": "x"``; the AWS CLI's
    get-pipeline-definition prints the plain value, and so does this conversion."""
    document = json.loads(template_text(name))
    through_api = definition_to_file(
        definition_from_api(definition_to_api(definition_from_file(document)))
    )
    for item in document["objects"]:
        for key, value in item.items():
            if isinstance(value, list) and len(value) == 1:
                item[key] = value[0]
    document.pop("metadata", None)  # the API form has no metadata
    assert through_api == document


def test_the_model_is_the_same_whichever_form_it_came_from() -> None:
    from_file = definition_from_file(json.loads(json.dumps(FILE_FORM)))
    from_api = definition_from_api(API_FORM)
    assert from_file == from_api
    assert from_file.objects[1].list_keys == {"precondition"}
    assert from_api.objects[1].list_keys == frozenset()


def test_metadata_is_kept_in_the_file_form_only() -> None:
    definition = load_definition(template_text("export-2017"))
    assert definition.metadata is not None
    assert definition.metadata["templateName"] == "Export DynamoDB table to S3 (Map Reduce job)"
    assert "metadata" not in definition_to_api(definition)


def test_load_tells_the_forms_apart() -> None:
    assert load_definition(json.dumps(API_FORM)) == load_definition(json.dumps(FILE_FORM))
    with pytest.raises(DefinitionError, match='no "objects"'):
        load_definition('{"values": {}}')


@pytest.mark.parametrize("text", ["{", "[]", '"objects"'])
def test_load_refuses_what_is_not_a_json_object(text: str) -> None:
    with pytest.raises(DefinitionError):
        load_definition(text)


def test_missing_objects_key_is_the_cli_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        definition_from_file({"parameters": []})
    assert caught.value.problems == ('Missing "objects" key',)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    document = {
        "objects": [
            {"name": "no id"},
            {"id": "A", "count": 2, "ratio": 0.25, "flag": True, "nested": {"a": "b"}},
            {"id": "B", "ref": {"ref": "A", "extra": "x"}, "list": ["ok", 3]},
            "not an object",
        ],
        "parameters": [{"type": "String"}, {"id": "myP", "default": 1}],
        "values": {"myP": 7},
    }
    with pytest.raises(DefinitionError) as caught:
        definition_from_file(document)
    assert caught.value.problems == (
        'Missing "id" key of element: {"name": "no id"}',
        "object 'A': field 'count' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 'A': field 'flag' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 'A': field 'nested' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 'A': field 'ratio' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 'B': field 'list' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 'B': field 'ref' must be a string, {\"ref\": \"<id>\"} or a list of them",
        "object 4 must be a JSON object",
        'Missing "id" key of parameter: {"type": "String"}',
        "parameter 'myP': attribute 'default' must be a string or a list of strings",
        "value of 'myP' must be a string or a list of strings",
    )


def test_numbers_in_json_never_become_float() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition('{"objects": [{"id": "A", "ratio": 0.1}]}')
    assert "float" not in str(caught.value)
    assert caught.value.problems[0].startswith("object 'A': field 'ratio'")


def test_api_objects_without_id_or_name_are_kept_for_validation() -> None:
    definition = definition_from_api({"pipelineObjects": [{"fields": []}]})
    assert definition.objects == (PipelineObject("", ""),)


@pytest.mark.parametrize(
    "field",
    [
        {"key": "a"},
        {"key": "a", "stringValue": "x", "refValue": "y"},
        {"key": "a", "stringValue": 3},
        {"stringValue": "x"},
        "a=x",
    ],
)
def test_api_fields_need_exactly_one_string_value(field: Any) -> None:
    document = {"pipelineObjects": [{"id": "A", "name": "A", "fields": [field]}]}
    with pytest.raises(DefinitionError) as caught:
        definition_from_api(document)
    assert caught.value.problems == (
        "pipelineObjects[0].fields[0] must have a string key and exactly one of stringValue "
        "or refValue, a string",
    )


def test_api_parameters_and_values_must_be_strings() -> None:
    document = {
        "pipelineObjects": [],
        "parameterObjects": [{"id": "myP", "attributes": [{"key": "type"}]}],
        "parameterValues": [{"id": "myP"}],
    }
    with pytest.raises(DefinitionError) as caught:
        definition_from_api(document)
    assert caught.value.problems == (
        "parameterObjects[0].attributes[0] must have a string key and stringValue",
        "parameterValues[0] must have a string id and stringValue",
    )


def test_definition_error_is_a_config_error() -> None:
    assert issubclass(DefinitionError, ConfigError)


def test_model_accessors() -> None:
    item = PipelineObject(
        "A",
        "A",
        (
            Field("type", string_value="S3DataNode"),
            Field("precondition", ref_value="P1"),
            Field("precondition", ref_value="P2"),
        ),
    )
    assert item.type == "S3DataNode"
    assert [entry.value for entry in item.values("precondition")] == ["P1", "P2"]
    assert item.string("precondition") is None
    assert Field("a", ref_value="X").to_api() == {"key": "a", "refValue": "X"}
    assert Field("a", string_value="").to_api() == {"key": "a", "stringValue": ""}
    parameter = ParameterObject("myP", (ParameterAttribute("default", "1"),))
    assert parameter.values("default") == ("1",)
    definition = PipelineDefinition((item,), (parameter,), (ParameterValue("myP", "2"),))
    assert definition.object("A") is item
    assert definition.object("B") is None
