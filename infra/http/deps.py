"""FastAPI dependencies as Annotated aliases: the one place routes get their collaborators."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from commands.application import ClinicApplication
from infra.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_application(request: Request) -> ClinicApplication:
    return get_container(request).app


ContainerDep = Annotated[Container, Depends(get_container)]
ApplicationDep = Annotated[ClinicApplication, Depends(get_application)]


def get_read_pool(request: Request) -> ConnectionPool:
    return get_container(request).pool


ReadPool = Annotated[ConnectionPool, Depends(get_read_pool)]
