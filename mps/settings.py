"""All configuration, from ``MPS_*`` environment variables (one object, built once per process)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of mps. The README's configuration table is generated from this class's fields."""

    model_config = SettingsConfigDict(env_prefix="MPS_", extra="ignore")

    database_url: str = Field("sqlite:///./mps.db", description="Task store (SQLAlchemy URL)")
    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/%2F", description="RabbitMQ")
    s3_endpoint_url: str = Field("http://127.0.0.1:9000", description="S3-compatible object store")
    s3_access_key: str = Field("minioadmin", description="Object store access key")
    s3_secret_key: str = Field("minioadmin", description="Object store secret key")
    s3_region: str = Field("us-east-1", description="Object store region")
    secret_id: str | None = Field(None, description="API SecretId for TC3 signatures (unset = auth off)")
    secret_key: str | None = Field(None, description="API SecretKey for TC3 signatures")
    events_exchange: str = Field("mps.events", description="Topic exchange for completion events")
    bucket_events_exchange: str = Field("mps.bucket-events", description="Exchange MinIO publishes to")
    bucket_events_exchange_type: str = Field("fanout", description="Type of that exchange")
    webhook_token: str | None = Field(None, description="Bearer token of POST /webhooks/bucket-events")
    work_dir: Path = Field(Path(tempfile.gettempdir()), description="Scratch space for workers")
    x264_preset: str = Field("veryfast", description="x264 preset for every H.264 encode")
    plan: Literal["auto", "fused", "split"] = Field(
        "auto", description="Grouping of one task's sub-tasks: auto, fused, split"
    )
    ffmpeg: str = Field("ffmpeg", description="ffmpeg binary")
    ffprobe: str = Field("ffprobe", description="ffprobe binary")
    ffmpeg_timeout: float = Field(3600.0, description="Seconds one ffmpeg run may take")
    max_input_duration: float = Field(6 * 3600.0, description="Longest input accepted, in seconds")
    max_input_pixels: int = Field(8192 * 4320, description="Largest input frame accepted, in pixels")
    url_max_bytes: int = Field(20 * 1024**3, description="Largest URL input downloaded, in bytes")
    url_allow_private: bool = Field(False, description="Allow URL inputs on loopback/private addresses")
    font_file: str | None = Field(
        None, description="TrueType font for text watermarks (default: DejaVu Sans)"
    )
    concurrency: int = Field(os.cpu_count() or 2, description="Sub-tasks run at once (mps process, worker)")
    presets_dir: Path | None = Field(None, description="Directory of preset template files")
    queue_prefix: str = Field("", description="Prefix of every queue mps owns (one deployment per vhost)")
    task_retention_days: float = Field(
        0.0, ge=0, description="Days a finished task is kept before the relay deletes it (0: forever)"
    )
    subtask_retries: int = Field(
        0,
        ge=0,
        le=9,
        description="Times a failed sub-task runs again when its error may pass (ffmpeg timeout, "
        "stall, internal): 5 s, then 10 s... apart (0 = never)",
    )
    subtask_lease: float = Field(
        30.0,
        gt=0,
        description="Seconds a worker holds a running sub-task between renewals (renewed every third); "
        "a dead worker's sub-task runs again after it",
    )
    redispatch_after: float = Field(
        30.0, description="Seconds before the relay republishes a sub-task that was never started"
    )
    assets_bucket: str = Field(
        "mps-assets", description="Bucket of watermark images uploaded with Create/ModifyWatermarkTemplate"
    )
    reconcile_interval: float = Field(
        300.0, description="Seconds between reconcile scans of watched buckets in mps listen (0 = off)"
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Port of /metrics on mps worker, listen and relay (0 = off)"
    )
    metrics_host: str = Field("0.0.0.0", description="Address the metrics port binds")
    console_password: str | None = Field(
        None, description="Console admin password (unset: the API's SecretId/SecretKey log in as admin)"
    )
    console_viewer_password: str | None = Field(
        None, description="Console read-only password (user name: viewer)"
    )
    console_secret: str | None = Field(
        None, description="Key signing console sessions (unset: random per process, with a warning)"
    )
    console_session_hours: float = Field(12.0, gt=0, description="Hours a console login lasts")
    schedule_poll_interval: float = Field(
        5.0, ge=0, description="Seconds between checks for due Schedule triggers in mps listen (0 = off)"
    )
    segment_seconds: float = Field(
        0.0,
        ge=0,
        description="Transcodes (MP4, H.264) of inputs longer than twice this are cut at keyframes into "
        "chunks of about this many seconds, encoded by several workers and joined (0 = off)",
    )
    stall_timeout: float = Field(
        120.0, ge=0, description="Seconds an ffmpeg run may go without progress before it is killed (0 = off)"
    )
