"""Installation helpers: broker credentials and ACL entries for sensors."""
