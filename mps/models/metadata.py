"""The probe of a media file, in Tencent's MediaMetaData shape. Bitrates here are **bps**."""

from __future__ import annotations

from pydantic import Field

from mps.models.base import WireModel


class MediaVideoStreamItem(WireModel):
    """One video stream."""

    Bitrate: int = 0
    Height: int = 0
    Width: int = 0
    Codec: str = ""
    Fps: int = 0
    FpsNumerator: int = 0
    FpsDenominator: int = 1
    ColorPrimaries: str = ""
    ColorSpace: str = ""
    ColorTransfer: str = ""
    HdrType: str = ""
    Codecs: str = ""


class MediaAudioStreamItem(WireModel):
    """One audio stream."""

    Bitrate: int = 0
    SamplingRate: int = 0
    Codec: str = ""
    Channel: int = 0
    Codecs: str = ""


class MediaMetaData(WireModel):
    """What the probe found: container, size, duration and streams.

    ``Width`` and ``Height`` are those of the encoded stream, as Tencent reports them; ``Rotate``
    says how a player turns it. :attr:`display_width` and :attr:`display_height` are the size a
    viewer sees, which is what output geometry is computed from.
    """

    Size: int = 0
    Container: str = ""
    Bitrate: int = 0
    Height: int = 0
    Width: int = 0
    Duration: float = 0.0
    Rotate: int = 0
    VideoStreamSet: list[MediaVideoStreamItem] = Field(default_factory=list)
    AudioStreamSet: list[MediaAudioStreamItem] = Field(default_factory=list)
    VideoDuration: float = 0.0
    AudioDuration: float = 0.0

    @property
    def has_video(self) -> bool:
        return bool(self.VideoStreamSet)

    @property
    def has_audio(self) -> bool:
        return bool(self.AudioStreamSet)

    @property
    def _quarter_turn(self) -> bool:
        return self.Rotate % 180 == 90

    @property
    def display_width(self) -> int:
        return self.Height if self._quarter_turn else self.Width

    @property
    def display_height(self) -> int:
        return self.Width if self._quarter_turn else self.Height

    @property
    def fps(self) -> float:
        """The frame rate of the first video stream (25 when unknown, ffmpeg's own default)."""
        if self.VideoStreamSet:
            stream = self.VideoStreamSet[0]
            if stream.FpsNumerator and stream.FpsDenominator:
                return stream.FpsNumerator / stream.FpsDenominator
            if stream.Fps:
                return float(stream.Fps)
        return 25.0

    @property
    def media_duration(self) -> float:
        """The length to plan against: the video's when there is video, else the whole file's."""
        return self.VideoDuration or self.Duration or self.AudioDuration
