"""The dossiers dataset: provincial public-service dossier exports."""
