import reflex as rx

from .pages.users import users_page
from .state.users import UsersState

app = rx.App(
    theme=rx.theme(appearance="inherit", accent_color="indigo", gray_color="slate", radius="medium"),
)
app.add_page(rx.fragment, route="/", title="Contact Center", on_load=rx.redirect("/users"))
app.add_page(users_page, route="/users", title="Users", on_load=UsersState.load)
