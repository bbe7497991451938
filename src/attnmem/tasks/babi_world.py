"""A small simulated world that tells the stories of the 20 bAbI task families (Weston et al. 2015).

Weston et al., "Towards AI-complete question answering: a set of prerequisite toy tasks" (2015), define twenty
question-answering tasks, each testing one skill: following a person, counting, deduction, finding a path...
This module re-creates the twenty *families* from scratch: people walk between rooms, pick up and drop things,
animals fear one another, shapes sit left of one another. Every story is simulated, so each answer is computed
from the world state and each question names the lines (the *supporting facts*) its answer follows from.

A story is a tuple of ``Line``: a statement ``Line(id, "Mary went to the kitchen.")`` or a question
``Line(id, "Where is Mary?", answer=("kitchen",), support=(1,))``. The text follows the public bAbI wording
closely, but the stories are our own: word lists, lengths and question rates differ from the public files.

``FAMILIES`` maps the task number 1..20 to ``(name, story function)``; a story function takes a
``random.Random`` and returns one story's lines. ``lexicon()`` lists every word a story can contain.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

__all__ = ["Line", "FAMILIES", "TASK_NAMES", "lexicon", "tokenize"]


@dataclass(frozen=True)
class Line:
    """One line of a bAbI story: a statement, or a question with its answer and supporting line ids."""

    id: int
    text: str
    answer: tuple[str, ...] | None = None  # None for a statement
    support: tuple[int, ...] = ()

    @property
    def is_question(self) -> bool:
        return self.answer is not None


def tokenize(text: str) -> list[str]:
    """Lower-cased words of a sentence, without its final ``.`` or ``?``: ``"Where is Mary?"`` -> 3 words."""
    return text.lower().rstrip(".?").split()


# --- the world's vocabulary ------------------------------------------------------------------------------------
PEOPLE = ("Mary", "John", "Daniel", "Sandra")
OTHERS = ("Fred", "Jeff", "Bill", "Julie")  # a second cast for tasks 5, 10, 14
GENDER = {"Mary": "she", "John": "he", "Daniel": "he", "Sandra": "she"}
ROOMS = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
PLACES = ("school", "park", "office", "kitchen", "cinema", "bedroom")  # tasks 10 and 14
OBJECTS = ("football", "apple", "milk")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
GETS = ("got", "grabbed", "picked up", "took")
DROPS = ("dropped", "discarded", "put down", "left")
GIVES = ("gave", "passed", "handed")
NUMBERS = ("none", "one", "two", "three")
DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w"}
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
STEP = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
ANIMALS = {"mouse": "mice", "cat": "cats", "sheep": "sheep", "wolf": "wolves"}
NAMES_15 = ("Gertrude", "Winona", "Emily", "Jessica")
SPECIES = ("swan", "lion", "frog", "rhino")
COLOURS = ("white", "yellow", "green", "gray")
NAMES_16 = ("Lily", "Bernhard", "Greg", "Julius", "Brian")
SHAPES = ("red square", "blue square", "red sphere", "triangle", "pink rectangle", "yellow square")
SPATIAL = {"above": (0, 1), "below": (0, -1), "to the left of": (-1, 0), "to the right of": (1, 0)}
CONTAINERS = ("chocolate", "box of chocolates", "box", "chest", "container", "suitcase")  # task 18, smallest first
AGENTS = ("Antoine", "Sumit", "Yann", "Jason")
MOTIVES = {"hungry": ("kitchen", "apple"), "thirsty": ("kitchen", "milk"), "tired": ("bedroom", "pajamas"),
           "bored": ("garden", "football")}
THEN = ("Then", "After that", "Following that", "Afterwards")
TIMES = ("yesterday", "this morning", "this afternoon", "this evening")

# Fixed words of every sentence and question shape the families below write ("{}" marks a slot).
TEMPLATES = (
    "{} {} the {}.", "{} {} the {} there.", "{} {} the {}.", "{} {} the {} to {}.",
    "Where is {}?", "Where is the {}?", "Where was the {} before the {}?", "What is {} of the {}?",
    "What is the {} {} of?", "What did {} give to {}?", "Who gave the {} to {}?", "Who did {} give the {} to?",
    "Who received the {}?", "Who gave the {}?", "Is {} in the {}?", "How many objects is {} carrying?",
    "What is {} carrying?", "{} is in the {}.", "{} is not in the {}.", "{} is no longer in the {}.",
    "{} is either in the {} or the {}.", "{} {} {} the {}.", "{} and {} {} the {}.", "Then they {} the {}.",
    "{} {} went to the {}.", "{} went to the {} {}.", "Where was {} before the {}?", "{} are afraid of {}.",
    "{} is a {}.", "What is {} afraid of?", "{} is {}.", "What color is {}?", "The {} is {} the {}.",
    "Is the {} {} the {}?", "The {} fits inside the {}.", "The {} is bigger than the {}.",
    "Does the {} fit in the {}?", "Is the {} bigger than the {}?", "The {} is {} of the {}.",
    "How do you go from the {} to the {}?", "{} is {}.", "Where will {} go?", "Why did {} go to the {}?",
    "Why did {} get the {}?", "yes no maybe nothing",
)


def lexicon() -> list[str]:
    """Every word (and comma-list answer) the 20 families can write, sorted: the generator's fixed vocabulary."""
    words: set[str] = set()
    lists: list[Iterable[str]] = [
        PEOPLE, OTHERS, GENDER.values(), ROOMS, PLACES, OBJECTS, MOVES, GETS, DROPS, GIVES, NUMBERS, DIRECTIONS,
        DIRECTIONS.values(), ANIMALS, ANIMALS.values(), NAMES_15, SPECIES, COLOURS, NAMES_16, SHAPES, SPATIAL,
        CONTAINERS, AGENTS, MOTIVES, ["pajamas"], THEN, TIMES, TEMPLATES,
    ]
    for group in lists:
        for phrase in group:
            words.update(tokenize(phrase.replace("{}", " ")))
    words.update(",".join(pair) for pair in _ordered_pairs(OBJECTS))
    words.update(f"{a},{b}" for a in DIRECTIONS.values() for b in DIRECTIONS.values())
    return sorted(words)


def _ordered_pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    return [(a, b) for a in items for b in items if a != b]


# --- building one story -----------------------------------------------------------------------------------------
@dataclass
class _Story:
    """Collects lines, numbering them from 1 as the bAbI files do (questions take ids too)."""

    lines: list[Line] = field(default_factory=list)

    def say(self, text: str) -> int:
        self.lines.append(Line(len(self.lines) + 1, text))
        return len(self.lines)

    def ask(self, text: str, answer: str | Sequence[str], support: Iterable[int]) -> None:
        answers = (answer,) if isinstance(answer, str) else tuple(answer)
        ids = tuple(sorted(set(support)))
        self.lines.append(Line(len(self.lines) + 1, text, answers, ids))

    @property
    def questions(self) -> int:
        return sum(line.is_question for line in self.lines)


class _Household:
    """People who walk between rooms, pick up, drop and pass objects; it remembers which line said what."""

    def __init__(self, rng: random.Random, story: _Story, people: Sequence[str], objects: Sequence[str] = (),
                 starts: dict[str, str] | None = None):
        self.rng, self.story, self.people, self.objects = rng, story, list(people), list(objects)
        self.starts = starts or {}  # object -> the unstated room it lies in until it is first picked up
        self.location: dict[str, tuple[str, int]] = {}  # person -> (room, line that says so)
        self.holding: dict[str, list[tuple[str, int]]] = {p: [] for p in people}  # person -> [(object, got line)]
        self.dropped: dict[str, tuple[str, tuple[int, ...]]] = {}  # object -> (room, lines)
        self.trail: dict[str, list[tuple[str, tuple[int, ...]]]] = {o: [] for o in objects}  # where it has been

    def holder(self, obj: str) -> str | None:
        return next((p for p, held in self.holding.items() if any(o == obj for o, _ in held)), None)

    def move(self, person: str) -> int:
        here = self.location.get(person, ("", 0))[0]
        room = self.rng.choice([r for r in ROOMS if r != here])
        line = self.story.say(f"{person} {self.rng.choice(MOVES)} the {room}.")
        self.location[person] = (room, line)
        for obj, got in self.holding[person]:
            self.trail[obj].append((room, (got, line)))
        return line

    def can_get(self, person: str, obj: str) -> bool:
        if person not in self.location or self.holder(obj) is not None:
            return False
        lies = self.dropped[obj][0] if obj in self.dropped else self.starts.get(obj)
        return lies is None or lies == self.location[person][0]

    def get(self, person: str, obj: str) -> int:
        room, where_line = self.location[person]
        line = self.story.say(f"{person} {self.rng.choice(GETS)} the {obj} there.")
        self.holding[person].append((obj, line))
        self.dropped.pop(obj, None)
        if not self.trail[obj] or self.trail[obj][-1][0] != room:
            self.trail[obj].append((room, (where_line, line)))
        return line

    def drop(self, person: str, obj: str) -> int:
        line = self.story.say(f"{person} {self.rng.choice(DROPS)} the {obj}.")
        self.holding[person] = [(o, g) for o, g in self.holding[person] if o != obj]
        room, where_line = self.location[person]
        self.dropped[obj] = (room, (where_line, line))
        return line

    def give(self, giver: str, receiver: str, obj: str) -> int:
        line = self.story.say(f"{giver} {self.rng.choice(GIVES)} the {obj} to {receiver}.")
        self.holding[giver] = [(o, g) for o, g in self.holding[giver] if o != obj]
        self.holding[receiver].append((obj, line))
        return line

    def where_object(self, obj: str) -> tuple[str, tuple[int, ...]] | None:
        """The room an object is in and the lines that show it (it is carried, or dropped somewhere)."""
        holder = self.holder(obj)
        if holder is None:
            return self.dropped.get(obj)
        got = next(g for o, g in self.holding[holder] if o == obj)
        room, where_line = self.location[holder]
        return room, (got, where_line)

    def event_of_a_drawn_kind(self) -> None:
        """One event drawn as the release draws them for task 3: a pick-up, a drop or a move, each kind equally
        likely, then who does it among those who can; a kind nobody can do is drawn again."""
        rng = self.rng
        while True:
            kind = rng.choice(("get", "drop", "move"))
            if kind == "move":
                self.move(rng.choice(self.people))
                return
            if kind == "get":
                events = [(self.get, p, o) for p in self.people for o in self.objects if self.can_get(p, o)]
            else:
                events = [(self.drop, p, o) for p in self.people for o, _ in self.holding[p]]
            if events:
                act, person, obj = rng.choice(events)
                act(person, obj)
                return

    def random_action(self, give: bool = False, drop: float = 0.2) -> None:
        """One random event: mostly moves; sometimes a pick-up, a drop or (with ``give``) a hand-over."""
        rng = self.rng
        options: list[Callable[[], int]] = []
        for person in self.people:
            options += [lambda p=person: self.move(p)] * 3
            options += [lambda p=person, o=obj: self.get(p, o) for obj in self.objects if self.can_get(person, obj)]
            for obj, _ in self.holding[person]:
                if rng.random() < drop * 4:
                    options.append(lambda p=person, o=obj: self.drop(p, o))
                if give:
                    options += [lambda p=person, q=other, o=obj: self.give(p, q, o)
                                for other in self.people if other != person and other in self.location]
        rng.choice(options)()


# --- the 20 families: each function writes one story -------------------------------------------------------------
def _walks(rng: random.Random, questions: int, ask: Callable[[_Household, str], None]) -> list[Line]:
    story = _Story()
    world = _Household(rng, story, PEOPLE)
    for _ in range(questions):
        for _ in range(2):
            world.move(rng.choice(PEOPLE))
        ask(world, rng.choice(sorted(world.location)))
    return story.lines


def single_supporting_fact(rng: random.Random) -> list[Line]:
    """Task 1: "Where is Mary?" follows from the last line that moved Mary."""

    def ask(world: _Household, person: str) -> None:
        room, line = world.location[person]
        world.story.ask(f"Where is {person}?", room, [line])

    return _walks(rng, 5, ask)


def _object_story(rng: random.Random, questions: int, known: Callable[[_Household], list[str]],
                  ask: Callable[[_Household, str], None], actions: tuple[int, int]) -> list[Line]:
    story = _Story()
    world = _Household(rng, story, PEOPLE, OBJECTS)
    while story.questions < questions:
        for _ in range(rng.randint(*actions)):
            world.random_action()
        candidates = known(world)
        if candidates:
            ask(world, rng.choice(candidates))
    return story.lines


def two_supporting_facts(rng: random.Random) -> list[Line]:
    """Task 2: "Where is the milk?" needs who carries it (or dropped it) and where that person is."""

    def ask(world: _Household, obj: str) -> None:
        room, lines = world.where_object(obj)  # type: ignore[misc]
        world.story.ask(f"Where is the {obj}?", room, lines)

    return _object_story(rng, 5, lambda w: [o for o in OBJECTS if w.where_object(o)], ask, (1, 4))


def three_supporting_facts(rng: random.Random) -> list[Line]:
    """Task 3: "Where was the milk before the office?" needs who carried it and the last two rooms they took it to.

    Told as the release tells it (``WhereWasObject.lua`` and the v1.2 stories quoted in other projects): pick-ups,
    drops and moves, each kind equally likely (``event_of_a_drawn_kind``), the objects lying in unstated rooms until
    someone finds them. Once more than two statements follow the last question, each statement is followed by one
    with probability 1/2, if an object has been put down since, its trail holding two rooms; the question asks for
    the room before its last. Five questions make a story of about 53 statements; a question comes after 38 of them
    on average.
    """
    story = _Story()
    world = _Household(rng, story, PEOPLE, OBJECTS, starts={obj: rng.choice(ROOMS) for obj in OBJECTS})
    told, asked_at = 0, 0
    while story.questions < 5:
        world.event_of_a_drawn_kind()
        told += 1
        put_down = [obj for obj, (_, (_, drop_line)) in sorted(world.dropped.items())
                    if drop_line > asked_at and len(world.trail[obj]) >= 2]  # lying there since the last question
        if told > 2 and rng.random() < 0.5 and put_down:
            obj = rng.choice(put_down)
            (before, lines_before), (last, lines_last) = world.trail[obj][-2:]
            story.ask(f"Where was the {obj} before the {last}?", before, lines_before + lines_last)
            told, asked_at = 0, len(story.lines)
    return story.lines


def two_argument_relations(rng: random.Random) -> list[Line]:
    """Task 4: "The office is north of the bedroom." -> "What is north of the bedroom?" (office)."""
    story = _Story()
    first, second, third = rng.sample(ROOMS, 3)
    direction = rng.choice(list(OPPOSITE))
    across = rng.choice([d for d in OPPOSITE if d not in (direction, OPPOSITE[direction])])
    facts = [(first, direction, second), (third, across, rng.choice([first, second]))]
    rng.shuffle(facts)
    lines = [story.say(f"The {a} is {d} of the {b}.") for a, d, b in facts]
    index = rng.randrange(2)
    a, d, b = facts[index]
    if rng.random() < 0.5:
        story.ask(f"What is {d} of the {b}?", a, [lines[index]])
    else:
        story.ask(f"What is the {a} {d} of?", b, [lines[index]])
    return story.lines


def three_argument_relations(rng: random.Random) -> list[Line]:
    """Task 5: "Fred gave the milk to Jeff." -> who gave, who received, what was given.

    As in the public files, a question about a hand-over may come a line or two after it (moves and pick-ups, never
    another hand-over, in between), so the last sentence alone does not always answer it.
    """
    story = _Story()
    world = _Household(rng, story, OTHERS, OBJECTS)
    for person in OTHERS:
        world.move(person)
    while story.questions < 5:
        before = len(story.lines)
        world.random_action(give=True, drop=0.05)
        text = story.lines[-1].text if len(story.lines) > before else ""
        found = re.match(r"(\w+) (?:gave|passed|handed) the (\w+) to (\w+)\.", text)
        if not found or rng.random() < 0.3:
            continue
        giver, obj, receiver = found.groups()
        line = len(story.lines)
        for _ in range(rng.randrange(3)):  # as in the public files, the hand-over asked about need not be last
            world.random_action(drop=0.05)
        shape = rng.randrange(5)
        if shape == 0:
            story.ask(f"What did {giver} give to {receiver}?", obj, [line])
        elif shape == 1:
            story.ask(f"Who gave the {obj} to {receiver}?", giver, [line])
        elif shape == 2:
            story.ask(f"Who did {giver} give the {obj} to?", receiver, [line])
        elif shape == 3:
            story.ask(f"Who received the {obj}?", receiver, [line])
        else:
            story.ask(f"Who gave the {obj}?", giver, [line])
    return story.lines


def yes_no_questions(rng: random.Random) -> list[Line]:
    """Task 6: "Is John in the garden?" answered yes or no from John's last move."""

    def ask(world: _Household, person: str) -> None:
        room, line = world.location[person]
        asked = room if rng.random() < 0.5 else rng.choice([r for r in ROOMS if r != room])
        world.story.ask(f"Is {person} in the {asked}?", "yes" if asked == room else "no", [line])

    return _walks(rng, 5, ask)


def _holdings_story(rng: random.Random, ask: Callable[[_Story, "_Holdings", str], None],
                    askable: Callable[["_Holdings", str], bool] = lambda world, person: True) -> list[Line]:
    """One story of tasks 7 and 8, structured as the released generator structures them (Weston et al. 2015).

    Everyone starts in a room the story never states, and so does every object; a person can pick up an object
    only where it lies, and hand one to someone in the same room. Each event first draws its kind: a move, a
    pick-up or drop (one kind, split evenly), or a hand-over (twice as likely as either); then it draws who does
    what, a hundred times at most, until the event is possible, and draws the kind again if it never is. Nobody is
    limited in what they carry. The first question comes once two statements are told and someone has picked up,
    dropped or handed over something; a question follows every second statement after it, five in all; each asks
    about one of the people who have done such a thing themselves (being handed something does not count) and
    whom ``askable`` accepts; a question with nobody to ask waits for the next statement.
    """
    story = _Story()
    world = _Holdings(rng, story)
    acted: set[str] = set()
    told, due = 0, 2
    while story.questions < 5:
        actor = world.event()
        if actor:
            acted.add(actor)
        told += 1
        people = [person for person in sorted(acted) if askable(world, person)]
        if told >= due and people:
            ask(story, world, rng.choice(people))
            due = told + 2
    return story.lines


class _Holdings:
    """The hidden state of a counting or listing story: rooms, who holds what, and the lines that show it."""

    def __init__(self, rng: random.Random, story: _Story):
        self.rng, self.story = rng, story
        self.room = {person: rng.choice(ROOMS) for person in PEOPLE}
        self.lies = {obj: rng.choice(ROOMS) for obj in OBJECTS}  # where each object not held lies
        self.holding: dict[str, list[tuple[str, int]]] = {p: [] for p in PEOPLE}  # [(object, line it came by)]
        self.first_came: dict[str, dict[str, int]] = {p: {} for p in PEOPLE}  # person -> object -> first line
        self.last_event: dict[str, int] = {}  # person -> line of their latest pick-up, drop or hand-over

    def holder(self, obj: str) -> str | None:
        return next((p for p, held in self.holding.items() if any(o == obj for o, _ in held)), None)

    def event(self) -> str:
        """Tell one possible event; return the person who picked up, dropped or handed over ("" for a move)."""
        rng = self.rng
        while True:
            kind = rng.choice(("get", "give", "move", "drop"))
            for _ in range(100):
                if kind == "move":
                    person, room = rng.choice(PEOPLE), rng.choice(ROOMS)
                    if room != self.room[person]:
                        self.room[person] = room
                        self.story.say(f"{person} {rng.choice(MOVES)} the {room}.")
                        return ""
                elif kind == "get":  # a pick-up or a drop, drawn evenly
                    person, drop, obj = rng.choice(PEOPLE), rng.random() < 0.5, rng.choice(OBJECTS)
                    if drop and self.holder(obj) == person:
                        return self._drop(person, obj)
                    if not drop and self.holder(obj) is None and self.lies[obj] == self.room[person]:
                        return self._get(person, obj)
                else:  # a hand-over: "give" and "drop" both draw one, as in the release
                    giver, obj, receiver = rng.choice(PEOPLE), rng.choice(OBJECTS), rng.choice(PEOPLE)
                    if giver != receiver and self.room[giver] == self.room[receiver] and self.holder(obj) == giver:
                        return self._give(giver, obj, receiver)

    def _get(self, person: str, obj: str) -> str:
        line = self.story.say(f"{person} {self.rng.choice(GETS)} the {obj} there.")
        self.holding[person].append((obj, line))
        self.first_came[person].setdefault(obj, line)
        self.last_event[person] = line
        return person

    def _drop(self, person: str, obj: str) -> str:
        line = self.story.say(f"{person} {self.rng.choice(DROPS)} the {obj}.")
        self.holding[person] = [(o, g) for o, g in self.holding[person] if o != obj]
        self.lies[obj] = self.room[person]
        self.last_event[person] = line
        return person

    def _give(self, giver: str, obj: str, receiver: str) -> str:
        line = self.story.say(f"{giver} {self.rng.choice(GIVES)} the {obj} to {receiver}.")
        self.holding[giver] = [(o, g) for o, g in self.holding[giver] if o != obj]
        self.holding[receiver].append((obj, line))
        self.first_came[receiver].setdefault(obj, line)
        self.last_event[giver] = self.last_event[receiver] = line
        return giver

    def support(self, person: str) -> list[int]:
        """The lines by which ``person`` came by what they hold; if nothing, their latest object event."""
        return [line for _, line in self.holding[person]] or [self.last_event[person]]


def counting(rng: random.Random) -> list[Line]:
    """Task 7: "How many objects is Mary carrying?" counts pick-ups, drops and hand-overs (none to three)."""

    def ask(story: _Story, world: _Holdings, person: str) -> None:
        count = NUMBERS[len(world.holding[person])]
        story.ask(f"How many objects is {person} carrying?", count, world.support(person))

    return _holdings_story(rng, ask)


def lists_sets(rng: random.Random) -> list[Line]:
    """Task 8: "What is Mary carrying?" answered with a comma list, or "nothing".

    The stories are task 7's, hand-overs included. The list names the objects in the order the person first came by
    them in the story, even if they let one go and took it back since: the v1.2 answers hold every order of every
    pair (*milk,football* and *football,milk* both), so the order is not fixed, and where quoted stories show it, it
    is the order of first acquisition. Someone holding all three objects is not asked about: the generator's fixed
    vocabulary has no three-object answer (in stories told this way about 2 questions in 1,000 would ask it).
    """

    def ask(story: _Story, world: _Holdings, person: str) -> None:
        first = world.first_came[person]
        answer = sorted((obj for obj, _ in world.holding[person]), key=first.__getitem__) or ["nothing"]
        story.ask(f"What is {person} carrying?", answer, world.support(person))

    return _holdings_story(rng, ask, lambda world, person: len(world.holding[person]) < len(OBJECTS))


def simple_negation(rng: random.Random) -> list[Line]:
    """Task 9: "Sandra is not in the garden." -> "Is Sandra in the garden?" (no)."""
    story = _Story()
    facts: dict[str, tuple[str, bool, int]] = {}  # person -> (room, is there, line)
    while story.questions < 5:
        for _ in range(2):
            person, room = rng.choice(PEOPLE), rng.choice(ROOMS)
            if rng.random() < 0.4:
                template = rng.choice(["{} is not in the {}.", "{} is no longer in the {}."])
                facts[person] = (room, False, story.say(template.format(person, room)))
            else:
                verb = rng.choice(("is in", *MOVES))
                facts[person] = (room, True, story.say(f"{person} {verb} the {room}."))
        person = rng.choice(sorted(facts))
        room, there, line = facts[person]
        if there and rng.random() < 0.2:  # rarely another room, so that yes and no are about equally common
            asked = rng.choice([r for r in ROOMS if r != room])
            story.ask(f"Is {person} in the {asked}?", "no", [line])
        else:
            story.ask(f"Is {person} in the {room}?", "yes" if there else "no", [line])
    return story.lines


def indefinite_knowledge(rng: random.Random) -> list[Line]:
    """Task 10: "Julie is either in the school or the park." -> "Is Julie in the park?" (maybe)."""
    story = _Story()
    facts: dict[str, tuple[tuple[str, ...], int]] = {}
    while story.questions < 5:
        for _ in range(2):
            person = rng.choice(OTHERS)
            if rng.random() < 0.5:
                a, b = rng.sample(PLACES, 2)
                facts[person] = ((a, b), story.say(f"{person} is either in the {a} or the {b}."))
            else:
                place = rng.choice(PLACES)
                facts[person] = ((place,), story.say(f"{person} {rng.choice(MOVES)} the {place}."))
        person = rng.choice(sorted(facts))
        possible, line = facts[person]
        asked = rng.choice(possible) if rng.random() < 0.5 else rng.choice([p for p in PLACES if p not in possible])
        answer = "no" if asked not in possible else ("yes" if len(possible) == 1 else "maybe")
        story.ask(f"Is {person} in the {asked}?", answer, [line])
    return story.lines


def basic_coreference(rng: random.Random) -> list[Line]:
    """Task 11: "Mary went to the office. Then she moved to the garden." -> "Where is Mary?" needs both lines.

    As in the public files, every move that names a person is followed by one that refers to them by pronoun: a named
    move without its follow-up would be a question answerable from one sentence, which the task is not.
    """
    story = _Story()
    known: dict[str, tuple[str, tuple[int, ...]]] = {}
    while story.questions < 5:
        person, room = rng.choice(PEOPLE), rng.choice(ROOMS)
        first = story.say(f"{person} {rng.choice(MOVES)} the {room}.")
        room = rng.choice([r for r in ROOMS if r != room])
        then = story.say(f"{rng.choice(THEN)} {GENDER[person]} {rng.choice(MOVES)} the {room}.")
        known[person] = (room, (first, then))
        if len(known) > 1 or rng.random() < 0.5:
            asked = rng.choice(sorted(known))
            story.ask(f"Where is {asked}?", known[asked][0], known[asked][1])
    return story.lines


def conjunction(rng: random.Random) -> list[Line]:
    """Task 12: "Mary and John went to the garden." -> "Where is John?"."""
    story = _Story()
    known: dict[str, tuple[str, int]] = {}
    for _ in range(5):
        for _ in range(2):
            a, b = rng.sample(PEOPLE, 2)
            room = rng.choice(ROOMS)
            line = story.say(f"{a} and {b} {rng.choice(MOVES)} the {room}.")
            known[a] = known[b] = (room, line)
        asked = rng.choice(sorted(known))
        story.ask(f"Where is {asked}?", known[asked][0], [known[asked][1]])
    return story.lines


def compound_coreference(rng: random.Random) -> list[Line]:
    """Task 13: "Mary and John went to the garden. Then they moved to the office." -> "Where is John?".

    As the release's generator tells it (``CompoundCoreference.lua``): five rounds of one pair's two moves and a
    question. The question may ask about anyone the story has placed, not only the pair just told, as in the task's
    example in Weston et al. (2015, Table 1: *Daniel and Sandra ... Sandra and John ... Where is Daniel?*) and in
    stories quoted from the v1.2 files.
    """
    story = _Story()
    known: dict[str, tuple[str, tuple[int, ...]]] = {}
    for _ in range(5):
        a, b = rng.sample(PEOPLE, 2)
        room = rng.choice(ROOMS)
        first = story.say(f"{a} and {b} {rng.choice(MOVES)} the {room}.")
        room = rng.choice([r for r in ROOMS if r != room])
        then = story.say(f"{rng.choice(THEN)} they {rng.choice(MOVES)} the {room}.")
        known[a] = known[b] = (room, (first, then))
        asked = rng.choice(sorted(known))
        story.ask(f"Where is {asked}?", known[asked][0], known[asked][1])
    return story.lines


def time_reasoning(rng: random.Random) -> list[Line]:
    """Task 14: "Yesterday Julie went to the park. This morning Julie went to the school." -> before the school?

    As the release's generator tells it (``Time.lua``): four moves, then a question after every two more, five in
    all. Each move is one of four people going, at one of four times of day, to a place they have not been; two of
    the first four moves are one person's, so the first question has something to ask. A question asks where someone
    was at the time of day before one of their moves.
    """
    story = _Story()
    days: dict[str, dict[int, tuple[str, int]]] = {person: {} for person in OTHERS}  # person -> {time: (place, slot)}
    person = rng.choice(OTHERS)
    first_slots = sorted(rng.sample(range(4), 2))
    for slot, time, place in zip(first_slots, rng.sample(range(4), 2), rng.sample(PLACES, 2)):
        days[person][time] = (place, slot)
    line_of: dict[int, int] = {}  # slot -> line id
    for slot in range(17):
        if slot >= 4 and (slot - 4) % 3 == 0:
            asked = rng.choice([p for p in OTHERS if len(days[p]) > 1])
            visits = [days[asked][time] for time in sorted(days[asked])]
            k = rng.randrange(1, len(visits))
            (before, earlier), (after, later) = visits[k - 1], visits[k]
            story.ask(f"Where was {asked} before the {after}?", before, [line_of[earlier], line_of[later]])
            continue
        told = [(p, t) for p, visits in days.items() for t, (_, at) in visits.items() if at == slot]
        if told:
            (who, time), = told
        else:
            while True:
                who, time, place = rng.choice(OTHERS), rng.randrange(4), rng.choice(PLACES)
                if time not in days[who] and all(place != seen for seen, _ in days[who].values()):
                    break
            days[who][time] = (place, slot)
        place, when, verb = days[who][time][0], TIMES[time], rng.choice(MOVES)
        text = f"{when.capitalize()} {who} {verb} the {place}." if rng.random() < 0.5 else \
            f"{who} {verb} the {place} {when}."
        line_of[slot] = story.say(text)
    return story.lines


def basic_deduction(rng: random.Random) -> list[Line]:
    """Task 15: "Sheep are afraid of wolves. Gertrude is a sheep." -> "What is Gertrude afraid of?" (wolf).

    As in the public stories, each of the four names is a kind drawn on its own (three mice and a wolf happen), and
    every kind's fear is stated, so a kind may be feared by several or by none of the named animals.
    """
    story = _Story()
    kinds = list(ANIMALS)
    fears = {kind: rng.choice([k for k in kinds if k != kind]) for kind in kinds}
    names = {name: rng.choice(kinds) for name in NAMES_15}
    facts = [("fear", k) for k in kinds] + [("is", n) for n in NAMES_15]
    rng.shuffle(facts)
    line_of: dict[tuple[str, str], int] = {}
    for what, who in facts:
        if what == "fear":
            text = f"{ANIMALS[who].capitalize()} are afraid of {ANIMALS[fears[who]]}."
        else:
            text = f"{who} is a {names[who]}."
        line_of[(what, who)] = story.say(text)
    for name in rng.sample(NAMES_15, 4):
        kind = names[name]
        story.ask(f"What is {name} afraid of?", fears[kind], [line_of[("is", name)], line_of[("fear", kind)]])
    return story.lines


def basic_induction(rng: random.Random) -> list[Line]:
    """Task 16: "Lily is a swan. Lily is white. Greg is a swan." -> "What color is Greg?" (white).

    Shaped like the public files: the five animals each get a kind, and all but the asked one a colour, in nine
    statements where an animal's kind always comes before its colour; then one question. The asked animal shares
    its kind with at least one other, and every other animal of that kind has the answer's colour; the remaining
    animals get a colour each at random, so that (as in the public stories) a colour may belong to several kinds and
    a kind other than the asked one may show several colours. No statement names the asked animal with a colour, so
    neither the question nor the last sentence alone tells the answer: the colour must be induced from a peer.
    """
    story = _Story()
    asked = rng.choice(NAMES_16)
    kind = {name: rng.choice(SPECIES) for name in NAMES_16}
    while sum(kind[name] == kind[asked] for name in NAMES_16) < 2:  # someone to induce the colour from
        kind[asked] = rng.choice(SPECIES)
    answer = rng.choice(COLOURS)
    colour = {name: answer if kind[name] == kind[asked] else rng.choice(COLOURS)
              for name in NAMES_16 if name != asked}
    facts = [("kind", name) for name in NAMES_16] + [("colour", name) for name in colour]
    rng.shuffle(facts)
    for name in colour:  # put each animal's kind before its colour, keeping the slots the two drew
        first, second = facts.index(("kind", name)), facts.index(("colour", name))
        if second < first:
            facts[first], facts[second] = facts[second], facts[first]
    line_of = {}
    for what, name in facts:
        text = f"{name} is a {kind[name]}." if what == "kind" else f"{name} is {colour[name]}."
        line_of[(what, name)] = story.say(text)
    peers = [name for name in colour if kind[name] == kind[asked]]
    support = [line_of[("kind", asked)]] + [line_of[(what, p)] for p in peers for what in ("kind", "colour")]
    story.ask(f"What color is {asked}?", answer, support)
    return story.lines


def positional_reasoning(rng: random.Random) -> list[Line]:
    """Task 17: "The triangle is above the red square. The red sphere is left of the triangle." -> yes/no."""
    story = _Story()
    a, b, c = rng.sample(SHAPES, 3)
    first = rng.choice(list(SPATIAL))
    second = rng.choice([r for r in SPATIAL if SPATIAL[r] != tuple(-x for x in SPATIAL[first])])  # c is not on b
    where = {b: (0, 0), a: SPATIAL[first]}
    where[c] = (where[a][0] + SPATIAL[second][0], where[a][1] + SPATIAL[second][1])
    lines = [story.say(f"The {a} is {first} the {b}."), story.say(f"The {c} is {second} the {a}.")]
    pairs = [(c, b), (b, c)] * 4
    rng.shuffle(pairs)
    for x, y in pairs:
        relation = rng.choice(list(SPATIAL))
        dx, dy = SPATIAL[relation]
        offset = (where[x][0] - where[y][0], where[x][1] - where[y][1])
        holds = offset[0] * dx > 0 if dx else offset[1] * dy > 0
        story.ask(f"Is the {x} {relation} the {y}?", "yes" if holds else "no", lines)
    return story.lines


def size_reasoning(rng: random.Random) -> list[Line]:
    """Task 18: "The chocolate fits inside the box. The box is bigger than the chest." -> "Does the chocolate fit..."

    Shaped like the public files: six things, of which the chocolate and the box of chocolates are always the two
    smallest (the four others are ordered anew in every story). A story is two rounds of five true comparisons,
    each followed by five questions. A round starts from a chain of two comparisons over three things (so that a
    question can be asked) and adds three comparisons of any two things, in a shuffled order, so a pair may be
    stated twice, in either wording (the public stories repeat pairs too). Every question compares two things that a chain of two stated comparisons
    orders, with the chain as its supporting facts; the pair may be stated directly too. Each question takes one
    of four forms, two answered yes and two no, so the answers are balanced. Since the two smallest things are
    fixed, a question about them is decided by its words and their order alone; one about two of the four others
    is not, and no single comparison decides a question that needs the chain.
    """
    story = _Story()
    order = [*CONTAINERS[:2], *rng.sample(CONTAINERS[2:], 4)]  # smallest first
    rank = {thing: i for i, thing in enumerate(order)}
    bigger: dict[str, dict[str, int]] = {thing: {} for thing in order}  # small -> {bigger thing: latest line}
    for _ in range(2):
        small, middle, big = sorted(rng.sample(order, 3), key=rank.__getitem__)
        pairs = [(small, middle), (middle, big)]
        pairs += [tuple(sorted(rng.sample(order, 2), key=rank.__getitem__)) for _ in range(3)]
        rng.shuffle(pairs)
        for a, b in pairs:
            if rng.random() < 0.5:
                bigger[a][b] = story.say(f"The {a} fits inside the {b}.")
            else:
                bigger[a][b] = story.say(f"The {b} is bigger than the {a}.")
        chains = {(a, c): (first, second) for a in order for b, first in bigger[a].items()
                  for c, second in bigger[b].items()}
        asked = sorted(chains)
        for _ in range(5):
            small, big = rng.choice(asked)
            form = rng.randrange(4)
            if form == 0:
                story.ask(f"Does the {small} fit in the {big}?", "yes", chains[(small, big)])
            elif form == 1:
                story.ask(f"Is the {big} bigger than the {small}?", "yes", chains[(small, big)])
            elif form == 2:
                story.ask(f"Does the {big} fit in the {small}?", "no", chains[(small, big)])
            else:
                story.ask(f"Is the {small} bigger than the {big}?", "no", chains[(small, big)])
    return story.lines


def path_finding(rng: random.Random) -> list[Line]:
    """Task 19: six rooms on a grid -> "How do you go from the garden to the office?" (e.g. "n,e").

    As in the examples quoted from the v1.2 files, five statements place all six rooms, each next to one placed
    before it, so exactly one route of two steps joins the rooms asked about.
    """
    story = _Story()
    rooms = rng.sample(ROOMS, 6)
    cell = {rooms[0]: (0, 0)}
    edges: list[tuple[str, str, str]] = []  # (room, direction from other to room, other)
    for room in rooms[1:]:
        while True:
            other = rng.choice(sorted(cell))
            direction = rng.choice(list(STEP))
            spot = (cell[other][0] + STEP[direction][0], cell[other][1] + STEP[direction][1])
            if spot not in cell.values():
                cell[room] = spot
                edges.append((room, direction, other))
                break
    rng.shuffle(edges)
    line_of: dict[frozenset[str], int] = {}
    for room, direction, other in edges:
        if rng.random() < 0.5:
            text = f"The {room} is {direction} of the {other}."
        else:
            text = f"The {other} is {OPPOSITE[direction]} of the {room}."
        line_of[frozenset((room, other))] = story.say(text)
    step = {}  # (from, to) -> direction of travel
    for room, direction, other in edges:
        step[(other, room)], step[(room, other)] = direction, OPPOSITE[direction]
    paths = [(a, b, c) for (a, b) in step for (b2, c) in step if b2 == b and c != a]
    start, middle, end = rng.choice(paths)
    answer = [DIRECTIONS[step[(start, middle)]], DIRECTIONS[step[(middle, end)]]]
    support = [line_of[frozenset((start, middle))], line_of[frozenset((middle, end))]]
    story.ask(f"How do you go from the {start} to the {end}?", answer, support)
    return story.lines


def agents_motivations(rng: random.Random) -> list[Line]:
    """Task 20: "Sumit is tired." -> "Where will Sumit go?" (bedroom), "Why did Sumit go to the bedroom?" (tired).

    As in the public files, the four agents' stories are interleaved: twelve steps, each one agent's next statement
    (the motive, the trip to its room, fetching its thing) followed by a question about that statement. A "why"
    question is answered by the motive, stated earlier and often several lines back; two motives share the kitchen,
    so the trip alone does not tell hunger from thirst.
    """
    story = _Story()
    motive = {agent: rng.choice(list(MOTIVES)) for agent in AGENTS}
    steps = {agent: 0 for agent in AGENTS}
    stated: dict[str, int] = {}  # agent -> the line that states their motive
    for _ in range(3 * len(AGENTS)):
        agent = rng.choice([a for a in AGENTS if steps[a] < 3])
        room, thing = MOTIVES[motive[agent]]
        steps[agent] += 1
        if steps[agent] == 1:
            stated[agent] = story.say(f"{agent} is {motive[agent]}.")
            story.ask(f"Where will {agent} go?", room, [stated[agent]])
        elif steps[agent] == 2:
            story.say(f"{agent} {rng.choice(MOVES)} the {room}.")
            story.ask(f"Why did {agent} go to the {room}?", motive[agent], [stated[agent]])
        else:
            story.say(f"{agent} {rng.choice(GETS)} the {thing} there.")
            story.ask(f"Why did {agent} get the {thing}?", motive[agent], [stated[agent]])
    return story.lines


FAMILIES: dict[int, tuple[str, Callable[[random.Random], list[Line]]]] = {
    1: ("single-supporting-fact", single_supporting_fact),
    2: ("two-supporting-facts", two_supporting_facts),
    3: ("three-supporting-facts", three_supporting_facts),
    4: ("two-arg-relations", two_argument_relations),
    5: ("three-arg-relations", three_argument_relations),
    6: ("yes-no-questions", yes_no_questions),
    7: ("counting", counting),
    8: ("lists-sets", lists_sets),
    9: ("simple-negation", simple_negation),
    10: ("indefinite-knowledge", indefinite_knowledge),
    11: ("basic-coreference", basic_coreference),
    12: ("conjunction", conjunction),
    13: ("compound-coreference", compound_coreference),
    14: ("time-reasoning", time_reasoning),
    15: ("basic-deduction", basic_deduction),
    16: ("basic-induction", basic_induction),
    17: ("positional-reasoning", positional_reasoning),
    18: ("size-reasoning", size_reasoning),
    19: ("path-finding", path_finding),
    20: ("agents-motivations", agents_motivations),
}

#: task number -> public file stem, e.g. 1 -> "qa1_single-supporting-fact"
TASK_NAMES: dict[int, str] = {k: f"qa{k}_{name}" for k, (name, _) in FAMILIES.items()}
