"""A small FastAPI app on the data layer: the story's ``get_db``, uploads, variance.

- ``POST /forecasts/{forecast_id}/actuals``: a week of actuals uploaded as a file
  (multipart field ``file``, CSV or Parquet), imported from the upload's stream by
  ``import_actuals``, with the same validation and transaction as ``ffdb import``.
- ``POST /historical-sales``: weekly or daily history the same way.
- ``GET /forecasts/{forecast_id}/variance?week=N``: ``ffdb variance --format json``'s object.

A refused upload answers 422 with every problem as ``{line, column, message, value}``
(``line``: the CSV line, or the Parquet row); nothing of it is written. Run it with
``DATABASE_URL=... uvicorn examples.forecast_api.main:app`` from the repository root
(``pip install uvicorn`` first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.app.database.db import get_db
from backend.app.ingest.actuals import UnknownForecast, import_actuals
from backend.app.ingest.historical_sales import import_historical_sales
from backend.app.ingest.options import ImportOptions
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import ImportRejected
from backend.app.queries import InvalidReadArgument, NotFound, forecast_variance

app = FastAPI(title="fashion-forecast data API (example)")

Db = Annotated[Session, Depends(get_db)]
Upload = Annotated[UploadFile, File(description="CSV or Parquet export")]


def _engine(db: Session) -> Engine:
    bind = db.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _imported(upload: UploadFile, load: Callable[[], ImportResult]) -> Any:
    """Run an import of ``upload``; its problems become a 422 answer, one object each."""
    try:
        result = load()
    except ImportRejected as rejected:
        return JSONResponse(
            status_code=422,
            content={
                "file": upload.filename,
                "total": rejected.total,
                "problems": [
                    {
                        "line": problem.line,
                        "column": problem.column,
                        "message": problem.message,
                        "value": problem.value,
                    }
                    for problem in rejected.log.listed()
                ],
            },
        )
    return {
        "file": result.path,
        "kind": result.kind.value,
        "rows_read": result.rows_read,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
    }


@app.post("/forecasts/{forecast_id}/actuals")
def upload_actuals(
    forecast_id: str,
    file: Upload,
    db: Db,
    week: Annotated[int | None, Query(ge=1, le=12)] = None,
    allow_partial: bool = False,
    replace: bool = False,
) -> Any:
    options = ImportOptions(replace=replace)
    try:
        return _imported(
            file,
            lambda: import_actuals(
                _engine(db),
                file.file,
                forecast_id,
                options,
                name=file.filename or "upload",
                week=week,
                allow_partial=allow_partial,
            ),
        )
    except UnknownForecast as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@app.post("/historical-sales")
def upload_history(file: Upload, db: Db) -> Any:
    return _imported(
        file,
        lambda: import_historical_sales(_engine(db), file.file, name=file.filename or "upload"),
    )


@app.get("/forecasts/{forecast_id}/variance")
def variance(forecast_id: str, db: Db, week: Annotated[int, Query(ge=1)]) -> Any:
    try:
        return forecast_variance(db, forecast_id, week).to_json_object()
    except NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except InvalidReadArgument as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
