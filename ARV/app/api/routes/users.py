"""The signed-in user's own account."""

from fastapi import APIRouter, status

from app.api.deps import AuthServiceDep, CurrentPrincipal, CurrentUser, UserServiceDep
from app.api.openapi import raises
from app.core.exceptions import CurrentPasswordIncorrectError, PasswordRejectedError
from app.schemas.user import PasswordChange, UserResponse, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", summary="Your account")
def read_me(user: CurrentUser) -> UserResponse:
    """The signed-in user's account."""
    return UserResponse.model_validate(user)


@router.patch("/me", summary="Update your profile")
def update_me(body: UserUpdate, user: CurrentUser, users: UserServiceDep) -> UserResponse:
    """Changes your name and the language of your emails; omitted fields stay as they are."""
    user = users.update_profile(user, body.full_name, body.language)
    return UserResponse.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change your password (signs out your other devices)",
)
@raises(CurrentPasswordIncorrectError, PasswordRejectedError)
def change_password(
    body: PasswordChange, principal: CurrentPrincipal, auth: AuthServiceDep
) -> None:
    """Needs the current password. Every other session of yours ends; this one stays signed in."""
    auth.change_password(
        principal.user, body.current_password, body.new_password, principal.session_id
    )
