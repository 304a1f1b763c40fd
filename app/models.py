"""Every ORM model, imported once so `Base.metadata` is complete (Alembic, tests)."""

from app.assessments import models as assessments_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.core.db import Base
from app.courses import models as courses_models  # noqa: F401
from app.enrolments import models as enrolments_models  # noqa: F401
from app.packages import models as packages_models  # noqa: F401
from app.reference import models as reference_models  # noqa: F401
from app.registrations import models as registrations_models  # noqa: F401
from app.users import models as users_models  # noqa: F401
from app.xapi import models as xapi_models  # noqa: F401

metadata = Base.metadata
