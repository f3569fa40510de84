"""Task names and queues are constants: producers and workers must agree on them."""

QUEUE_MEDIA = "media"
QUEUE_DEFAULT = "default"
QUEUE_NOTIFICATIONS = "notifications"
ALL_QUEUES = (QUEUE_MEDIA, QUEUE_DEFAULT, QUEUE_NOTIFICATIONS)

SYSTEM_PING = "system.ping"
AUTH_PURGE_EXPIRED = "auth.purge_expired"
