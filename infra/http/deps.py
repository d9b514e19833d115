"""FastAPI dependencies as Annotated aliases: the one place routes get their collaborators.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool,
so a one-line accessor would cost a thread hop, and under write load wait for a free thread
behind the sync handlers (GET /slots timed out that way: docs/performance.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from commands.application import ClinicApplication
from infra.container import Container
from infra.crypto.phi import PhiCipher
from queries import db as queries_db


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_container(request: Request) -> Container:
    return _container(request)


async def get_application(request: Request) -> ClinicApplication:
    return _container(request).app


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_phi(request: Request) -> PhiCipher:
    return _container(request).phi


PhiDep = Annotated[PhiCipher, Depends(get_phi)]
ApplicationDep = Annotated[ClinicApplication, Depends(get_application)]


async def get_read_pool(request: Request) -> queries_db.ReadPool:
    pool: queries_db.ReadPool = request.app.state.read_pool
    return pool


ReadPool = Annotated[queries_db.ReadPool, Depends(get_read_pool)]

