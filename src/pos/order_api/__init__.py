"""The Order API: idempotent order intake over HTTP (FastAPI on uvicorn, asyncpg)."""
