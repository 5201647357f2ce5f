"""Output types the structured-output tests share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    """One line of an invoice."""

    name: str = Field(description="What was sold", max_length=40)
    quantity: int = Field(ge=1)
    unit_price: float = Field(ge=0)
    color: Color | None = None
    tags: list[str] = []


class Invoice(BaseModel):
    """An invoice."""

    customer: str
    items: list[Item]
    paid: bool = False
    note: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"]
    meows: int


class Dog(BaseModel):
    kind: Literal["dog"]
    barks: int


class Pet(BaseModel):
    pet: Cat | Dog = Field(discriminator="kind")
    name: str


class Node(BaseModel):
    value: int
    children: list[Node] = []


@dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


ISSUE_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "labels": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title"],
}
