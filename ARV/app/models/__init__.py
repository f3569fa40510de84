"""Every model, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.models.ar_content import (
    ARContent,
    ARContentVersion,
    ARContentVersionVideo,
    ContentStatus,
    ScheduledVideo,
)
from app.models.audit import ActorKind, AuditLog
from app.models.auth import AuthSession, OAuthState, OneTimeToken, RefreshToken, TokenPurpose
from app.models.base import Base
from app.models.billing import (
    BillingPeriod,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentProvider,
    PaymentStatus,
    ProcessedPaymentEvent,
    Product,
    ProductKind,
    Refund,
    VatRate,
)
from app.models.company import Company, Invitation, Membership, Plan
from app.models.marker import Marker, MarkerStatus
from app.models.outbox import OutboxMessage, OutboxStatus
from app.models.project import Project, ProjectAccess, ProjectGrant, ProjectStatus, ProjectTemplate
from app.models.scan_analytics import (
    ContentDailyStats,
    ContentStatsBacklog,
    ViewerEvent,
    ViewerEventKind,
    ViewerPlatform,
)
from app.models.storage import FileStatus, StoredFile
from app.models.user import Language, User, UserIdentity
from app.models.video import (
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoJob,
    VideoOutputPurge,
    VideoRendition,
    VideoStatus,
)
from app.models.video_analytics import (
    PlaybackEventKind,
    VideoDailyStats,
    VideoEvent,
    VideoStatsBacklog,
)

__all__ = [
    "ARContent",
    "ARContentVersion",
    "ARContentVersionVideo",
    "ActorKind",
    "AuditLog",
    "AuthSession",
    "Base",
    "BillingPeriod",
    "Company",
    "ContentDailyStats",
    "ContentStatsBacklog",
    "ContentStatus",
    "FileStatus",
    "Invitation",
    "JobKind",
    "JobStatus",
    "Language",
    "Marker",
    "MarkerStatus",
    "Membership",
    "OAuthState",
    "OneTimeToken",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Payment",
    "PaymentProvider",
    "PaymentStatus",
    "PipelineStage",
    "Plan",
    "PlaybackEventKind",
    "ProcessedPaymentEvent",
    "Product",
    "ProductKind",
    "Project",
    "ProjectAccess",
    "ProjectGrant",
    "ProjectStatus",
    "ProjectTemplate",
    "RefreshToken",
    "Refund",
    "RenditionKind",
    "RenditionStatus",
    "ScheduledVideo",
    "StoredFile",
    "TokenPurpose",
    "User",
    "UserIdentity",
    "VatRate",
    "Video",
    "VideoDailyStats",
    "VideoEvent",
    "VideoJob",
    "VideoOutputPurge",
    "VideoRendition",
    "VideoStatsBacklog",
    "VideoStatus",
    "ViewerEvent",
    "ViewerEventKind",
    "ViewerPlatform",
]
