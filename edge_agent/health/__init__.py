"""Health: stats, systemd notification and the watchdog."""
