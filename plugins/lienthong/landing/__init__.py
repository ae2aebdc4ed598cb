"""Files dropped by provinces into the landing area: their names."""
