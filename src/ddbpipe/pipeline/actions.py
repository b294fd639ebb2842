"""Actions an instance sets off: ``onFail``, ``onSuccess``, ``onLateAction``.

- ``SnsAlarm`` publishes ``message`` with ``subject`` to the topic ``topicArn``, every
  field rendered for the instance that set it off (``#{node.…}`` names it, and its
  runtime fields, ``#{node.errorMessage}`` among them, can be read). It goes through
  botocore's SNS client in the topic's region, to the command's SNS endpoint when one
  is given.
- ``Terminate`` cancels the instance (for ``onLateAction``: it did not finish in time).
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ddbpipe.errors import ConfigError, ServiceError, TransientError
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.transitions import instance_runtime
from ddbpipe.sessions import AnySession, make_client, new_session

__all__ = ["SNS_SUBJECT_LIMIT", "SnsMessage", "publish_alarm", "render_alarm"]

SNS_SUBJECT_LIMIT = 100


class SnsMessage:
    """An alarm rendered for one instance."""

    def __init__(self, topic_arn: str, subject: str, message: str) -> None:
        self.topic_arn = topic_arn
        self.subject = subject
        self.message = message

    @property
    def region(self) -> str | None:
        """The topic's region, from its ARN (``arn:aws:sns:<region>:…``)."""
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) > 5 and parts[3] else None


def render_alarm(plan: PipelinePlan, action_id: str, node: ObjectRecord) -> SnsMessage:
    """The ``SnsAlarm`` ``action_id`` rendered for the instance ``node``."""
    runtime = instance_runtime(plan, node)
    runtime.pop("@id", None)
    component_id = node.component_id or ""

    def field(key: str) -> str:
        values = plan.evaluator.field(action_id, key, runtime, node_id=component_id)
        return values[0] if values else ""

    topic = field("topicArn")
    if not topic:
        raise ConfigError(f"SnsAlarm {action_id!r} has no topicArn")
    return SnsMessage(topic, field("subject"), field("message"))


def publish_alarm(
    alarm: SnsMessage, config: RunnerConfig, *, session: AnySession | None = None
) -> str:
    """Publish ``alarm``; return the message id. Raises ``TransientError`` or
    ``ServiceError`` when SNS refuses or cannot be reached."""
    session = session or new_session(config.dynamo.profile, config.dynamo.credentials)
    client: Any = make_client(
        session,
        "sns",
        region_name=alarm.region or config.dynamo.region,
        endpoint_url=config.sns_endpoint_url,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
    subject = alarm.subject[:SNS_SUBJECT_LIMIT] or "AWS Data Pipeline alarm"
    try:
        response = client.publish(TopicArn=alarm.topic_arn, Subject=subject, Message=alarm.message)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ServiceError(
            "SNS", str(error.get("Code", "")), str(error.get("Message", exc))
        ) from None
    except BotoCoreError as exc:
        raise TransientError(f"SNS Publish to {alarm.topic_arn} failed: {exc}") from None
    return str(response.get("MessageId", ""))
