"""Shared request structures: where media comes from, where it goes, who is told (mps-api.md §4)."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from mps.models.base import UnsupportedFields, WireModel


class CosInputInfo(WireModel):
    """A COS object; for mps, ``Bucket`` is a bucket of the configured S3 store."""

    Bucket: str
    Region: str = ""
    #: An absolute key with a leading ``/``, e.g. ``/movie/201907/a.mov``.
    Object: str


class UrlInputInfo(WireModel):
    """Media fetched from an http(s) URL (or, for ``mps process``, a ``file://`` URL)."""

    Url: str


class S3InputInfo(WireModel):
    """An object in an AWS-S3-compatible bucket, with optional per-request keys."""

    S3Bucket: str
    S3Region: str = ""
    S3Object: str
    S3SecretId: str | None = None
    S3SecretKey: str | None = None


# Field names equal class names in Tencent's contract; these aliases keep the annotations
# below from resolving to the fields themselves.
_Cos = CosInputInfo
_Url = UrlInputInfo
_S3 = S3InputInfo


class MediaInputInfo(WireModel):
    """The source file of a task: ``Type`` says which of the nested objects is set."""

    Type: Literal["COS", "URL", "AWS-S3"]
    unsupported_fields: ClassVar[UnsupportedFields] = {"VODInputInfo": ()}
    CosInputInfo: _Cos | None = None
    UrlInputInfo: _Url | None = None
    S3InputInfo: _S3 | None = None

    @model_validator(mode="after")
    def _matching_info_is_set(self) -> MediaInputInfo:
        needed = {"COS": self.CosInputInfo, "URL": self.UrlInputInfo, "AWS-S3": self.S3InputInfo}[self.Type]
        if needed is None:
            field = {"COS": "CosInputInfo", "URL": "UrlInputInfo", "AWS-S3": "S3InputInfo"}[self.Type]
            raise ValueError(f"Type {self.Type} needs {field}")
        return self

    @property
    def file_name(self) -> str:
        """The last path segment of the source, used for ``{inputName}`` in output names."""
        if self.CosInputInfo is not None:
            key = self.CosInputInfo.Object
        elif self.S3InputInfo is not None:
            key = self.S3InputInfo.S3Object
        else:
            assert self.UrlInputInfo is not None
            key = unquote(urlsplit(self.UrlInputInfo.Url).path)
        return key.rstrip("/").rsplit("/", 1)[-1]


class CosOutputStorage(WireModel):
    """Output bucket; a missing value is inherited from the level above."""

    Bucket: str | None = None
    Region: str | None = None


class S3OutputStorage(WireModel):
    """Output to an AWS-S3-compatible bucket."""

    S3Bucket: str
    S3Region: str = ""
    S3SecretId: str | None = None
    S3SecretKey: str | None = None


_CosOut = CosOutputStorage
_S3Out = S3OutputStorage


class TaskOutputStorage(WireModel):
    """Where outputs are written (``COS`` or ``AWS-S3``)."""

    Type: Literal["COS", "AWS-S3"]
    unsupported_fields: ClassVar[UnsupportedFields] = {"VODOutputStorage": ()}
    CosOutputStorage: _CosOut | None = None
    S3OutputStorage: _S3Out | None = None


class AwsSqs(WireModel):
    """An AWS SQS target for notifications (accepted, not used by mps)."""

    SQSRegion: str = ""
    SQSQueueName: str = ""
    S3SecretId: str | None = None
    S3SecretKey: str | None = None


class TaskNotifyConfig(WireModel):
    """Where task events go; omitted means no events. ``CmqRegion`` is accepted and has no effect
    (one broker); AWS SQS delivery is not implemented, so ``AwsSQS`` is refused when set."""

    unsupported_fields: ClassVar[UnsupportedFields] = {"AwsSQS": ()}

    NotifyType: str | None = None
    NotifyMode: str | None = None
    NotifyUrl: str | None = None
    CmqModel: str | None = None
    CmqRegion: str | None = None
    TopicName: str | None = None
    QueueName: str | None = None
    AwsSQS: AwsSqs | None = None
    NotifyKey: str | None = None


class NumberFormat(WireModel):
    """How ``{number}`` is written in output names: ``InitialValue``, then ``+Increment`` each."""

    InitialValue: int = Field(default=0, ge=0)
    Increment: int = Field(default=1, ge=1)
    MinLength: int = Field(default=1, ge=1, le=16)
    PlaceHolder: str = Field(default="0", min_length=1, max_length=1)
