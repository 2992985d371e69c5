"""The interview tables of the store: people (guests), and an interview's guests, sections and
transcript turns, hanging off an article version (`pipelines.store.models.ArticleVersion`).

Declarations only, like `pipelines.store.models`, which re-exports every class here, so that
importing the models registers these tables with `Base` too (what `alembic check` compares).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pipelines.store.declarative import ROLES, Base, one_of

if TYPE_CHECKING:
    from pipelines.store.models import ArticleVersion


class Person(Base):
    __tablename__ = "people"
    __table_args__ = {"comment": "An interview guest, unique by name as printed."}

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    name: Mapped[str] = mapped_column(
        String(128), unique=True, comment="The name as printed (homonyms share a row)."
    )
    name_simplified: Mapped[str] = mapped_column(
        String(128), index=True, comment="The name in simplified script (OpenCC t2s)."
    )


class Interview(Base):
    __tablename__ = "interviews"
    __table_args__ = {"comment": "The interview structure of one article version."}

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    version_id: Mapped[int] = mapped_column(
        ForeignKey("article_versions.id"), unique=True, comment="The version (1:1)."
    )
    summary: Mapped[str | None] = mapped_column(Text, comment="The interview's summary.")

    version: Mapped[ArticleVersion] = relationship(back_populates="interview")
    guests: Mapped[list[InterviewGuest]] = relationship(order_by="InterviewGuest.position")
    sections: Mapped[list[InterviewSection]] = relationship(order_by="InterviewSection.position")
    turns: Mapped[list[InterviewTurn]] = relationship(order_by="InterviewTurn.position")


class InterviewGuest(Base):
    __tablename__ = "interview_guests"
    __table_args__ = (
        UniqueConstraint("interview_id", "position"),
        {"comment": "A guest of an interview, in guest-line order."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), comment="The interview.")
    position: Mapped[int] = mapped_column(Integer, comment="0-based, in guest-line order.")
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id"), index=True, comment="The guest."
    )
    title: Mapped[str | None] = mapped_column(
        Text, comment="The title the guest held then: 寮厦社区党委书记."
    )

    person: Mapped[Person] = relationship()


class InterviewSection(Base):
    __tablename__ = "interview_sections"
    __table_args__ = (
        UniqueConstraint("interview_id", "position"),
        {"comment": "A 关键词N section of an interview."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), comment="The interview.")
    position: Mapped[int] = mapped_column(Integer, comment="The record's section index.")
    label: Mapped[str | None] = mapped_column(Text, comment="The label: 关键词1.")
    topic: Mapped[str | None] = mapped_column(Text, comment="The topic: 谈感想.")
    headline: Mapped[str | None] = mapped_column(Text, comment="The headline under it.")


class InterviewTurn(Base):
    __tablename__ = "interview_turns"
    __table_args__ = (
        UniqueConstraint("interview_id", "position"),
        CheckConstraint(one_of("role", ROLES), name="role_known"),
        {"comment": "One speaker's turn in an interview's transcript."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), comment="The interview.")
    position: Mapped[int] = mapped_column(Integer, comment="0-based, in transcript order.")
    speaker: Mapped[str] = mapped_column(String(128), comment="The speaker as printed.")
    role: Mapped[str] = mapped_column(String(16), comment="host or guest.")
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id"),
        index=True,
        comment="The guest speaking, when the speaker is one of the interview's guests.",
    )
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("interview_sections.id"), index=True, comment="The section it falls under."
    )
    text: Mapped[str] = mapped_column(Text, comment="What was said.")

    section: Mapped[InterviewSection | None] = relationship()
    person: Mapped[Person | None] = relationship()
