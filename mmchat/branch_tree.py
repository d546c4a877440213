"""A conversation's branches laid out for reading: the branch shown, then every other one as a
thread from where it leaves a branch already listed, so each stored message appears once."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmchat.store import Message, Store


@dataclass
class Branches:
    shown: list[Message]
    # The other branches, oldest fork first; each goes from the message where it leaves the
    # shown branch (or a thread before it) down to its newest message.
    threads: list[list[Message]] = field(default_factory=list)
    _siblings: dict[int | None, list[Message]] = field(default_factory=dict)
    _position: dict[int, int] = field(default_factory=dict)  # message id -> 1 for the first

    @classmethod
    def of(cls, store: Store, conversation: int) -> Branches:
        shown = store.messages(conversation)
        if not store.tree:
            return cls(shown)  # a database from before branches: one chain
        return cls.build(shown, store.all_messages(conversation))

    @classmethod
    def build(cls, shown: list[Message], every: list[Message]) -> Branches:
        """`every`: all the conversation's messages in id order (a parent before its children)."""
        tree = cls(shown)
        children: dict[int | None, list[Message]] = {}
        for message in every:
            children.setdefault(message.parent_id, []).append(message)
            above = tree._position.get(message.parent_id or 0, 0)
            tree._position[message.id] = above + 1
        tree._siblings = children
        listed = {m.id for m in shown}
        by_id = {m.id: m for m in every}
        threads: list[list[Message]] = []
        for leaf in every:
            if leaf.id in listed or children.get(leaf.id):
                continue
            path = [leaf]
            while (parent := path[-1].parent_id) is not None and parent not in listed:
                path.append(by_id[parent])
            thread = path[::-1]
            listed.update(m.id for m in thread)
            threads.append(thread)
        # What was listed is closed under parents, so a thread's first message always follows
        # one listed before it: sorted by depth, a thread comes after the one it leaves.
        threads.sort(key=lambda t: (tree._position[t[0].id], t[0].id))
        tree.threads = threads
        return tree

    def others_of(self, message: Message) -> list[Message]:
        """The other versions of this message: its siblings, oldest first."""
        return [m for m in self._siblings.get(message.parent_id, []) if m.id != message.id]

    def position(self, message: Message) -> int:
        return self._position.get(message.id, 0)

    def heading(self, thread: list[Message]) -> str:
        """E.g. "Message 4, version 1 of 2" (4: its place in the chat, counting from 1)."""
        first = thread[0]
        text = f"Message {self.position(first)}, version {first.branch} of {first.branches}"
        shown = {m.id for m in self.shown}
        if first.parent_id is not None and first.parent_id not in shown:
            text += ", following another version above"
        return text


def other_versions(message: Message, others: list[Message]) -> str:
    """E.g. "1 other version of this answer"."""
    noun = "answer" if message.role == "assistant" else "message"
    count = len(others)
    return f"{count} other version{'s' if count != 1 else ''} of this {noun}"
