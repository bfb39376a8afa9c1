"""The brand repo's git hygiene (`vam repo.check`)."""
