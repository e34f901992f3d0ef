"""Stand-in for the parts of core megaplan that the supervisor imports (cloud reference §11.2)."""
