"""Operators' review of data that failed validation: decisions on quarantined rows and held
batches (``decisions``), what the review view reads (``queries``), Great Expectations Data
Docs per validation (``data_docs``), the Required Action that waits for a held batch in
Airflow (``held_batch``), notifications (``notifier``), and the view itself (``web``)."""
