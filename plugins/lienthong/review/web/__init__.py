"""The "Data quality" view: a FastAPI app that Airflow's api-server serves (see
``plugins/lienthong_review.py``), behind Airflow's sign-in and permissions."""
