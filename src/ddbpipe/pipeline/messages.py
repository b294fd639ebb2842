"""Every validation message, in the service's ``CODE: text`` form, in one table.

Two texts are the service's own, as AWS documents them: ``INVALID_FIELD_VALUE: 'startDateTime'
value must be a literal datetime value.`` (the ValidatePipelineDefinition example) and
the cascade-backfill warning (the Developer Guide's "Cascading Failures and Reruns"); the
text of ``MISSING_PARAMETER_VALUE`` is the one the service returned for a parameter
without a value. The other codes are ddbpipe's, written in the same style.
"""

from __future__ import annotations

__all__ = ["MESSAGES", "message"]

# name -> (code, text template); templates use str.format fields.
MESSAGES: dict[str, tuple[str, str]] = {
    # Fatal: the definition is refused and not saved.
    "missing_id": ("MISSING_ID", "object {index} has no id."),
    "missing_name": ("MISSING_NAME", "the object has no name."),
    "empty_field": ("EMPTY_FIELD_VALUE", "'{key}' value must not be empty."),
    "too_many_objects": (
        "TOO_MANY_OBJECTS",
        "the definition has {count} objects; at most {limit} are allowed.",
    ),
    # Objects.
    "duplicate_id": ("DUPLICATE_OBJECT_ID", "{count} objects have the id '{id}'."),
    "missing_type": ("MISSING_REQUIRED_FIELD", "'type' is required."),
    "unknown_type": ("INVALID_OBJECT_TYPE", "'{type}' is not an object type."),
    "unsupported_type": (
        "UNSUPPORTED_OBJECT_TYPE",
        "objects of type '{type}' cannot run in ddbpipe; it runs EmrActivity steps that "
        "export or import DynamoDB tables and HiveCopyActivity between DynamoDB and S3.",
    ),
    "required": ("MISSING_REQUIRED_FIELD", "'{key}' is required."),
    "one_of_required": ("MISSING_REQUIRED_FIELD", "one of '{first}' or '{second}' is required."),
    "schedule_required": (
        "MISSING_REQUIRED_FIELD",
        "'schedule' is required unless the pipeline's scheduleType is 'ondemand'.",
    ),
    "only_one_of": ("CONFLICTING_FIELDS", "only one of '{first}' or '{second}' may be set."),
    "not_with": ("CONFLICTING_FIELDS", "'{first}' cannot be used with '{second}'."),
    "field_not_allowed": ("FIELD_NOT_ALLOWED", "'{key}' is not allowed on {type} objects."),
    "unknown_field": (
        "INVALID_FIELD_NAME",
        "'{key}' is not a field of {what}; user-defined fields start with 'my' "
        "followed by an upper-case letter or '_'.",
    ),
    "runtime_field": (
        "INVALID_FIELD_NAME",
        "'{key}' is a runtime field that the service sets; a definition cannot set it.",
    ),
    "literal_datetime": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a literal datetime value.",
    ),
    "bad_period": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a period such as '1 day' or '15 minutes', not '{value}'.",
    ),
    "period_range": (
        "INVALID_FIELD_VALUE",
        "'period' value must be between 15 minutes and 3 years, not '{value}'.",
    ),
    "end_before_start": (
        "INVALID_FIELD_VALUE",
        "'endDateTime' value must be later than 'startDateTime'.",
    ),
    "bad_enum": ("INVALID_FIELD_VALUE", "'{key}' value must be one of {choices}, not '{value}'."),
    "bad_integer": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a whole number of at least {minimum}, not '{value}'.",
    ),
    "bad_boolean": ("INVALID_FIELD_VALUE", "'{key}' value must be true or false, not '{value}'."),
    "throughput_range": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a number from 0.1 to 1.0, not '{value}'.",
    ),
    "retries_range": (
        "INVALID_FIELD_VALUE",
        "'maximumRetries' value must be a whole number from 0 to 5, not '{value}'.",
    ),
    "retry_delay": (
        "INVALID_FIELD_VALUE",
        "'retryDelay' value must be a period of at least 2 minutes, not '{value}'.",
    ),
    "ref_expected": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a reference to another object, not a string.",
    ),
    "string_expected": (
        "INVALID_FIELD_VALUE",
        "'{key}' value must be a string, not a reference.",
    ),
    "field_too_long": (
        "FIELD_TOO_LONG",
        "'{key}' value is {size} bytes; at most {limit} are allowed.",
    ),
    "name_too_long": (
        "NAME_TOO_LONG",
        "the {what} '{name}' is {size} bytes; at most {limit} are allowed.",
    ),
    "too_many_fields": (
        "TOO_MANY_FIELDS",
        "the object has {count} fields; at most {limit} are allowed.",
    ),
    "object_too_large": (
        "OBJECT_TOO_LARGE",
        "the object is {size} bytes; at most {limit} are allowed.",
    ),
    # References.
    "ref_not_found": (
        "INVALID_REFERENCE",
        "'{key}' refers to '{target}', which is not an object of the definition.",
    ),
    "ref_wrong_type": (
        "INVALID_REFERENCE",
        "'{key}' must refer to an object of type {expected}; '{target}' is of type {actual}.",
    ),
    "parent_cycle": ("INVALID_REFERENCE", "'parent' references form a cycle: {path}."),
    # Expressions and parameters used by objects.
    "bad_expression": ("INVALID_EXPRESSION", "'{key}' value: {reason} at character {position}."),
    "undefined_parameter": (
        "MISSING_PARAMETER",
        "'{key}' uses #{{{name}}}, which has no parameter object, value or default.",
    ),
    # Schedules.
    "ondemand_not_only": (
        "INVALID_SCHEDULE_TYPE",
        "'ondemand' must be the only scheduleType of the pipeline; this object uses '{value}'.",
    ),
    "ondemand_not_default": (
        "INVALID_SCHEDULE_TYPE",
        "'ondemand' must be set on the Default object.",
    ),
    "ondemand_schedule": (
        "INVALID_SCHEDULE_TYPE",
        "a pipeline whose scheduleType is 'ondemand' cannot use a Schedule.",
    ),
    # What ddbpipe can run.
    "unsupported_step": (
        "UNSUPPORTED_STEP",
        "step '{step}' is not a DynamoDB export or import that ddbpipe can run: {reason}",
    ),
    "hive_copy_nodes": (
        "UNSUPPORTED_ACTIVITY",
        "HiveCopyActivity can only copy between a DynamoDBDataNode and an S3DataNode; "
        "input is {input} and output is {output}.",
    ),
    "hive_copy_field": (
        "UNSUPPORTED_ACTIVITY",
        "HiveCopyActivity runs here as a whole-table export or import: {node} needs a '{key}'.",
    ),
    "ondemand_max_active": (
        "INVALID_FIELD_VALUE",
        "'maxActiveInstances' of an on-demand pipeline can be at most 5, not '{value}'.",
    ),
    "filter_sql": (
        "UNSUPPORTED_FIELD",
        "'filterSql' is not supported: ddbpipe copies whole tables.",
    ),
    # Parameters (listed under the parameter's id).
    "missing_value": ("MISSING_PARAMETER_VALUE", "Value is missing for this parameter"),
    "bad_parameter_value": ("INVALID_PARAMETER_VALUE", "{what} '{value}' is not a valid {type}."),
    "not_allowed_value": (
        "INVALID_PARAMETER_VALUE",
        "{what} '{value}' is not one of the allowed values: {allowed}.",
    ),
    "not_array": (
        "INVALID_PARAMETER_VALUE",
        "the parameter is not an array (isArray) but has {count} values.",
    ),
    "bad_parameter_type": (
        "INVALID_PARAMETER_TYPE",
        "'{type}' is not a parameter type; use String, Integer, Double or AWS::S3::ObjectKey.",
    ),
    "bad_parameter_boolean": (
        "INVALID_PARAMETER_ATTRIBUTE",
        "'{key}' must be true or false, not '{value}'.",
    ),
    "unknown_parameter_attribute": (
        "UNKNOWN_PARAMETER_ATTRIBUTE",
        "'{key}' is not a parameter attribute.",
    ),
    "bad_parameter_id": (
        "INVALID_PARAMETER_ID",
        "parameter ids must start with 'my' (or '*my' for a masked value).",
    ),
    "duplicate_parameter": (
        "DUPLICATE_PARAMETER_ID",
        "{count} parameter objects have the id '{id}'.",
    ),
    "too_many_parameters": (
        "TOO_MANY_PARAMETERS",
        "the definition has {count} parameters; at most {limit} are allowed.",
    ),
    # Warnings.
    "cascade_backfill": (
        "CASCADE_BACKFILL",
        "{name} has 'failureAndRerunMode' field set to 'cascade' and you are about to create "
        "a backfill with scheduleStartTime {start}. This can result in rapid creation of "
        "pipeline objects in case of failures.",
    ),
}


def message(name: str, /, **values: object) -> str:
    """The ``CODE: text`` of message ``name`` with ``values`` filled in."""
    code, template = MESSAGES[name]
    return f"{code}: {template.format(**values)}"
