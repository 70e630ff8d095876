"""User–track interactions: tolerant readers of logs, durable recording, and each user's
recent history."""
