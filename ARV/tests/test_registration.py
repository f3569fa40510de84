"""Registration that cannot fail silently: every route tag is declared with a description,
every task a module defines is loaded by the worker, and every model is seen by Alembic.

The worker and Alembic see only what `TASK_MODULES` and `app.models` import, so those two
are checked in a fresh interpreter, where nothing this test imported can help them.
"""

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from types import ModuleType

import app.background_tasks
import app.models
from app.background_tasks import names
from app.background_tasks.celery_app import TASK_MODULES, celery_app
from app.main import OPENAPI_TAGS, create_app
from app.models.base import Base
from tests.support.processes import project_env


def submodules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def in_fresh_interpreter(code: str) -> object:
    """What `code` prints as JSON, run by a new Python that imports only what it says."""
    completed = subprocess.run(
        [sys.executable, "-c", code], env=project_env(), capture_output=True, check=True
    )
    return json.loads(completed.stdout)


def test_every_route_tag_is_declared_with_a_description() -> None:
    declared = {tag["name"]: tag.get("description", "") for tag in OPENAPI_TAGS}
    used = {
        tag
        for path in create_app().openapi()["paths"].values()
        for operation in path.values()
        for tag in operation.get("tags", [])
    }
    assert used, "no tagged operations found"
    assert used - set(declared) == set(), "tags used by routes but missing from OPENAPI_TAGS"
    assert [name for name in used if not str(declared[name]).strip()] == []


def test_every_module_defining_tasks_is_loaded_by_the_worker() -> None:
    submodules(app.background_tasks)  # registers every task defined anywhere in the package
    defining = {
        task.__module__ for name, task in celery_app.tasks.items() if not name.startswith("celery.")
    }
    assert defining - set(TASK_MODULES) == set(), "modules with tasks missing from TASK_MODULES"


def test_every_task_name_is_registered_by_the_worker() -> None:
    task_names = {
        value
        for constant, value in vars(names).items()
        if constant.isupper() and isinstance(value, str) and not constant.startswith("QUEUE_")
    }
    assert task_names, "no task name constants found"
    registered = in_fresh_interpreter(
        "import json\n"
        "from app.background_tasks.celery_app import celery_app\n"
        "celery_app.loader.import_default_modules()\n"
        "print(json.dumps(sorted(celery_app.tasks)))"
    )
    assert isinstance(registered, list)
    assert task_names - set(registered) == set(), "task names no worker would run"


def test_every_beat_entry_names_a_task() -> None:
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    task_names = {value for value in vars(names).values() if isinstance(value, str)}
    assert scheduled - task_names == set()


def test_every_model_is_exported_and_seen_by_alembic() -> None:
    models = {
        cls
        for module in submodules(app.models)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Base) and cls is not Base and cls.__module__ == module.__name__
    }
    assert models, "no models found"
    exported = {name for name in app.models.__all__ if getattr(app.models, name) in models}
    assert {cls.__name__ for cls in models} - exported == set(), "missing from app.models"

    tables = {cls.__tablename__ for cls in models}
    # What `alembic/env.py` sees: the metadata after importing `app.models` alone.
    seen = in_fresh_interpreter(
        "import json\nfrom app.models import Base\nprint(json.dumps(sorted(Base.metadata.tables)))"
    )
    assert isinstance(seen, list)
    assert tables - set(seen) == set(), "tables autogenerate would not see"
