"""Result and error messages: the public schema and the publisher."""
