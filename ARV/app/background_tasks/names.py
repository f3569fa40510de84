"""Task names and queues are constants: producers and workers must agree on them."""

QUEUE_MEDIA = "media"
QUEUE_DEFAULT = "default"
QUEUE_NOTIFICATIONS = "notifications"
ALL_QUEUES = (QUEUE_MEDIA, QUEUE_DEFAULT, QUEUE_NOTIFICATIONS)

SYSTEM_PING = "system.ping"
AUTH_PURGE_EXPIRED = "auth.purge_expired"

STORAGE_CHECKSUM = "storage.checksum"
STORAGE_PURGE_FILE = "storage.purge_file"
STORAGE_PURGE_ABANDONED_UPLOADS = "storage.purge_abandoned_uploads"

VIDEO_RUN_JOB = "videos.run_job"
VIDEO_WATCHDOG = "videos.watchdog"
VIDEO_PURGE_OUTPUTS = "videos.purge_outputs"
VIDEO_PURGE_SUPERSEDED = "videos.purge_superseded"

MARKER_PROCESS = "markers.process"
MARKER_WATCHDOG = "markers.watchdog"

ANALYTICS_ROLL_UP = "analytics.roll_up"
ANALYTICS_PURGE_EVENTS = "analytics.purge_events"

OUTBOX_DELIVER = "outbox.deliver"
OUTBOX_SWEEP = "outbox.sweep"
NOTIFICATIONS_PURGE_READ = "notifications.purge_read"
PAYMENTS_POLL = "payments.poll_pending"
BILLING_PERIODS = "billing.periods"
INVOICE_RENDER = "invoices.render"
INVOICE_WATCHDOG = "invoices.watchdog"
