import type { CreateCourseInput } from "../models/course.model";
import type { LessonInput } from "../models/lesson.model";

/**
 * The starter English courses every new system ships with (npm run seed; loaded on
 * first start of the embedded default). `key` gives each course, lesson, question and
 * card a stable id, so seeding twice — or on two machines — names the same things.
 */
export interface SeedCourse extends CreateCourseInput {
  key: string;
  lessons: Array<LessonInput & { key: string }>;
}

export const STARTER_COURSES: SeedCourse[] = [
  {
    key: "starter/a1-greetings-and-introductions",
    title: "Greetings and introductions",
    description:
      "Your first conversations in English: say hello and goodbye, introduce yourself, ask someone's name and where they are from, and use polite everyday phrases.",
    level: "A1",
    topics: ["Greetings", "Introductions", "Everyday English"],
    language: "en",
    lessons: [
      {
        key: "hello-nice-to-meet-you",
        kind: "lesson",
        title: "Hello! Nice to meet you",
        order: 1,
        skills: ["greetings", "introductions"],
        body: `# Hello! Nice to meet you

It is the first day of an English class. Anna sits down next to a young man.

> **Anna:** Hi! Is this seat free?
> **Tom:** Yes, it is. Please sit down.
> **Anna:** Thank you. I'm Anna.
> **Tom:** Nice to meet you, Anna. I'm Tom.
> **Anna:** Nice to meet you too. Where are you from, Tom?
> **Tom:** I'm from Canada. And you?
> **Anna:** I'm from Poland, from Kraków.
> **Tom:** Oh, I love Kraków! What do you do, Anna?
> **Anna:** I'm a nurse. What about you?
> **Tom:** I'm a student. I study music.
> **Anna:** That's great!

## Useful phrases

| phrase | when you use it |
|---|---|
| **Hello. / Hi.** | to greet someone (*Hi* is informal) |
| **Good morning. / Good afternoon. / Good evening.** | to greet someone at a time of day |
| **I'm Anna. / My name is Anna.** | to say your name |
| **What's your name?** | to ask someone's name |
| **Nice to meet you.** — **Nice to meet you too.** | when you meet someone for the first time |
| **Where are you from?** — **I'm from Canada.** | to talk about your country |
| **What do you do?** — **I'm a nurse.** | to talk about your job |

## Grammar: the verb *to be*

| | positive | question |
|---|---|---|
| I | I **am** (I'm) Anna. | **Am** I late? |
| you | You **are** (you're) from Canada. | **Are** you a student? |
| he / she | She **is** (she's) a nurse. | **Is** he from Poland? |

Remember: we say *I'm a nurse* (with **a**), not *I'm nurse*.`,
      },
      {
        key: "goodbye-and-polite-phrases",
        kind: "lesson",
        title: "Goodbye, please and thank you",
        order: 2,
        skills: ["greetings", "polite-phrases"],
        body: `# Goodbye, please and thank you

After the class, Anna and Tom leave the school together.

> **Tom:** Anna, would you like a coffee?
> **Anna:** Yes, please! Thank you.
> **Tom:** You're welcome. … Oh, sorry, it's late. I have to go.
> **Anna:** No problem. See you on Monday!
> **Tom:** See you! Have a nice weekend.
> **Anna:** Thanks, you too. Bye!

## Saying goodbye

- **Goodbye.** — polite, for everyone.
- **Bye. / Bye-bye.** — informal, for friends and family.
- **See you later. / See you tomorrow. / See you on Monday.** — when you will meet again.
- **Good night.** — late in the evening, or before you go to bed. (*Good night* is **not** a greeting.)
- **Have a nice day! / Have a nice weekend!** — a friendly wish. The answer is **Thanks, you too.**

## Polite words

- **Please** — when you ask for something: *Can I have a tea, please?*
- **Thank you. / Thanks.** — the answer is **You're welcome.** or **No problem.**
- **Sorry.** — when you make a small mistake.
- **Excuse me.** — to get someone's attention: *Excuse me, where is the station?*

## How are you?

> **A:** How are you?
> **B:** I'm fine, thanks. And you?
> **A:** Very well, thank you.

Other answers: *I'm OK.* · *Not bad.* · *I'm a bit tired.*`,
      },
      {
        key: "greetings-quiz",
        kind: "quiz",
        title: "Quiz: greetings and introductions",
        order: 3,
        skills: ["greetings", "introductions", "verb-to-be"],
        body: "Check what you learned in the first two lessons.",
        questions: [
          {
            type: "single",
            skills: ["introductions"],
            prompt: "You meet a new colleague for the first time. What do you say?",
            options: ["Nice to meet you.", "Good night.", "See you later.", "You're welcome."],
            answer: "Nice to meet you.",
            explanation: 'We say "Nice to meet you" when we meet someone for the first time.',
          },
          {
            type: "single",
            skills: ["verb-to-be"],
            prompt: 'Complete the sentence: "She ___ from Brazil."',
            options: ["am", "is", "are"],
            answer: "is",
            explanation:
              'With he, she and it, the verb to be is "is": she is (she\'s) from Brazil.',
          },
          {
            type: "single",
            skills: ["polite-phrases"],
            prompt: 'Someone says "Thank you!" What is the usual answer?',
            options: ["You're welcome.", "Excuse me.", "Nice to meet you too.", "I'm from Canada."],
            answer: "You're welcome.",
          },
          {
            type: "multiple",
            skills: ["greetings"],
            prompt: "Which of these can you say when you leave? Choose all that are correct.",
            options: ["Goodbye.", "See you tomorrow.", "Good morning.", "Bye!", "How are you?"],
            answer: ["Goodbye.", "See you tomorrow.", "Bye!"],
            explanation:
              '"Good morning" and "How are you?" are greetings, not ways to say goodbye.',
          },
          {
            type: "multiple",
            skills: ["verb-to-be", "articles"],
            prompt: "Which sentences are correct?",
            options: ["I'm a nurse.", "I'm nurse.", "He is a student.", "They is from Poland."],
            answer: ["I'm a nurse.", "He is a student."],
            explanation:
              'Jobs need "a" or "an": I\'m a nurse. With "they" we use "are": they are from Poland.',
          },
          {
            type: "text",
            skills: ["introductions"],
            prompt: 'Complete the answer: "Where are you from?" — "I\'m ___ Canada." (one word)',
            answer: "from",
          },
          {
            type: "text",
            skills: ["contractions", "verb-to-be"],
            prompt: 'Write the short form of "I am".',
            answer: "I'm",
            explanation: 'In speaking and informal writing, "I am" becomes "I\'m".',
          },
          {
            type: "order",
            skills: ["question-word-order"],
            prompt: "Put the words in the right order to make a question.",
            options: ["your", "What's", "name", "?"],
            answer: ["What's", "your", "name", "?"],
          },
          {
            type: "order",
            skills: ["introductions"],
            prompt: "Put the conversation in order.",
            options: ["Nice to meet you, Anna. I'm Tom.", "Hi! I'm Anna.", "Nice to meet you too."],
            answer: ["Hi! I'm Anna.", "Nice to meet you, Anna. I'm Tom.", "Nice to meet you too."],
          },
          {
            type: "cloze",
            skills: ["verb-to-be"],
            prompt: 'Complete the dialogue: "Hi, I {{1}} Anna. Where {{2}} you from?"',
            answer: ["am", "are"],
            explanation: 'I am (I\'m) Anna; with "you" the verb to be is "are".',
          },
        ],
      },
      {
        key: "greetings-flashcards",
        kind: "flashcards",
        title: "Flashcards: greetings and polite phrases",
        order: 4,
        skills: ["greetings", "polite-phrases"],
        cards: [
          {
            front: "Hello / Hi",
            back: 'a greeting; "Hi" is informal',
            example: "Hi, Tom! How are you?",
          },
          {
            front: "Good morning",
            back: "a greeting before 12 o'clock",
            example: "Good morning, everyone. Let's start the lesson.",
          },
          {
            front: "Good evening",
            back: "a greeting after about 6 p.m.",
            example: "Good evening, sir. Do you have a reservation?",
          },
          {
            front: "Nice to meet you",
            back: "what you say when you meet someone for the first time",
            example: "I'm Anna. — Nice to meet you, Anna.",
          },
          {
            front: "What's your name?",
            back: "a question to ask someone's name",
            example: "What's your name? — My name is Tom.",
          },
          {
            front: "Where are you from?",
            back: "a question about someone's country or city",
            example: "Where are you from? — I'm from Poland.",
          },
          {
            front: "What do you do?",
            back: "a question about someone's job",
            example: "What do you do? — I'm a teacher.",
          },
          {
            front: "How are you?",
            back: "a friendly question when you meet someone you know",
            example: "How are you? — I'm fine, thanks. And you?",
          },
          {
            front: "See you later",
            back: "an informal way to say goodbye when you will meet again",
            example: "I have to go now. See you later!",
          },
          {
            front: "Good night",
            back: "said when you leave in the evening or go to bed (not a greeting)",
            example: "Good night, Mum. Sleep well.",
          },
          {
            front: "Thank you / Thanks",
            back: "words to show you are grateful",
            example: "Here's your coffee. — Thank you!",
          },
          {
            front: "You're welcome",
            back: 'the polite answer to "Thank you"',
            example: "Thanks for your help! — You're welcome.",
          },
          {
            front: "Excuse me",
            back: "a polite way to get someone's attention",
            example: "Excuse me, is this seat free?",
          },
          {
            front: "Sorry",
            back: "what you say when you make a small mistake",
            example: "Sorry, I'm late!",
          },
        ],
      },
    ],
  },
  {
    key: "starter/a2-travel",
    title: "Travel",
    description:
      "English for your next trip: check in at the airport, go through passport control, book and check in to a hotel, ask for directions and buy tickets for public transport.",
    level: "A2",
    topics: ["Travel", "Transport", "Hotels and accommodation"],
    language: "en",
    lessons: [
      {
        key: "at-the-airport",
        kind: "lesson",
        title: "At the airport",
        order: 1,
        skills: ["travel-vocabulary", "directions"],
        body: `# At the airport

Maria is flying from London to Dublin. She is at the check-in desk.

> **Agent:** Good morning. Can I see your passport and your booking, please?
> **Maria:** Yes, here you are.
> **Agent:** Thank you. Are you checking in any bags today?
> **Maria:** Just this suitcase.
> **Agent:** Could you put it on the scale, please? … That's fine, eighteen kilos. Would you like a window seat or an aisle seat?
> **Maria:** A window seat, please.
> **Agent:** Here's your boarding pass. Your flight leaves from gate 14 and boarding starts at ten forty.
> **Maria:** Is the flight on time?
> **Agent:** Yes, it is. Have a good flight!

Later, at security:

> **Officer:** Please put your liquids, laptop and phone in the tray. Have you got anything in your pockets?
> **Maria:** Only my keys.
> **Officer:** Put them in the tray too, please, and walk through.

## Vocabulary

- **check in** (verb) — to show your ticket and give your bags to the airline: *We checked in two hours before the flight.*
- **boarding pass** — the card or document you need to get on the plane.
- **gate** — the place in the airport where you get on the plane: *The flight to Dublin leaves from gate 14.*
- **aisle seat / window seat** — a seat next to the corridor / next to the window.
- **delayed** — later than planned: *Our flight is delayed by forty minutes.*
- **hand luggage** — a small bag you take on the plane with you.

## Grammar: polite requests

We use **Can I …? / Could you …? / Would you like …?** to be polite:

- *Can I see your passport, please?*
- *Could you put it on the scale, please?* (**could** is a little more polite than **can**)
- *Would you like a window seat?* — *Yes, please. / No, thank you.*`,
      },
      {
        key: "checking-in-at-a-hotel",
        kind: "lesson",
        title: "Checking in at a hotel",
        order: 2,
        skills: ["travel-vocabulary", "polite-requests"],
        body: `# Checking in at a hotel

Maria arrives at her hotel in Dublin in the evening.

> **Receptionist:** Good evening! Welcome to the Riverside Hotel. How can I help you?
> **Maria:** Hi, I have a reservation. My name is Maria Costa.
> **Receptionist:** Let me check… Yes, a single room for three nights, with breakfast. Could I see your passport, please?
> **Maria:** Sure. What time is breakfast?
> **Receptionist:** From seven to ten in the restaurant on the ground floor.
> **Maria:** And is there Wi-Fi in the room?
> **Receptionist:** Yes, it's free. The password is on your key card. You're in room 312, on the third floor. The lift is on your left.
> **Maria:** What time do I have to check out?
> **Receptionist:** By eleven o'clock. If you need anything, just call reception.
> **Maria:** Great, thank you very much.

## Asking for directions

The next morning, Maria wants to see the city.

> **Maria:** Excuse me, how do I get to Trinity College?
> **Receptionist:** It's about fifteen minutes on foot. Turn right when you leave the hotel, go straight on along the river and cross the second bridge. Then take the first street on the left. You can't miss it.

## Vocabulary

- **reservation / booking** — an arrangement to have a room (or a table, a seat) at a certain time.
- **single room / double room** — a room for one person / for two people.
- **check out** — to pay and leave the hotel at the end of your stay.
- **ground floor** — the floor at street level (in American English: *first floor*).
- **lift** — a machine that carries people between floors (American English: *elevator*).
- **go straight on · turn left · turn right · cross the bridge** — directions.`,
      },
      {
        key: "travel-quiz",
        kind: "quiz",
        title: "Quiz: travelling",
        order: 3,
        skills: ["travel-vocabulary", "directions", "polite-requests"],
        body: "Test your travel English: airports, hotels and directions.",
        questions: [
          {
            type: "single",
            skills: ["travel-vocabulary"],
            prompt: "Where do you go to get on the plane?",
            options: ["the gate", "the reception", "the platform", "the lift"],
            answer: "the gate",
            explanation:
              "At an airport you board the plane at the gate. A platform is where you get on a train.",
          },
          {
            type: "single",
            skills: ["travel-vocabulary"],
            prompt: '"Our flight is ___ by forty minutes."',
            options: ["delayed", "booked", "checked", "crossed"],
            answer: "delayed",
          },
          {
            type: "single",
            skills: ["polite-requests"],
            prompt: "Which request is the most polite?",
            options: [
              "Give me your passport.",
              "Could you show me your passport, please?",
              "Passport!",
              "You show passport.",
            ],
            answer: "Could you show me your passport, please?",
            explanation: '"Could you … , please?" is a polite way to ask someone to do something.',
          },
          {
            type: "multiple",
            skills: ["travel-vocabulary"],
            prompt: "Which of these things can you find in a hotel?",
            options: ["reception", "a key card", "a boarding pass", "a lift", "a runway"],
            answer: ["reception", "a key card", "a lift"],
          },
          {
            type: "multiple",
            skills: ["directions"],
            prompt: "Which phrases give directions?",
            options: [
              "Turn left.",
              "Go straight on.",
              "Check out by eleven.",
              "Cross the bridge.",
              "Have a good flight!",
            ],
            answer: ["Turn left.", "Go straight on.", "Cross the bridge."],
          },
          {
            type: "text",
            skills: ["travel-vocabulary"],
            prompt: 'In British English it is a "lift". What is it in American English?',
            answer: "elevator",
          },
          {
            type: "text",
            skills: ["phrasal-verbs"],
            prompt: 'Complete: "What time do I have to check ___?" (leave the hotel)',
            answer: "out",
            explanation: "You check in when you arrive and check out when you leave.",
          },
          {
            type: "order",
            skills: ["travel-vocabulary"],
            prompt: "Put the steps of a flight in order.",
            options: [
              "go through security",
              "check in your suitcase",
              "board the plane",
              "wait at the gate",
            ],
            answer: [
              "check in your suitcase",
              "go through security",
              "wait at the gate",
              "board the plane",
            ],
          },
          {
            type: "order",
            skills: ["question-word-order", "directions"],
            prompt: "Put the words in order to make a question.",
            options: ["I", "do", "get to", "How", "the station?"],
            answer: ["How", "do", "I", "get to", "the station?"],
          },
          {
            type: "match",
            skills: ["travel-vocabulary"],
            prompt: "Match each place with what you do there.",
            options: {
              left: ["airport", "hotel", "station"],
              right: ["check in to a room", "catch a train", "board a plane"],
            },
            answer: [
              ["airport", "board a plane"],
              ["hotel", "check in to a room"],
              ["station", "catch a train"],
            ],
          },
          {
            type: "translate",
            skills: ["directions", "polite-requests"],
            prompt: "Translate into English: « Où est la gare, s'il vous plaît ? »",
            // One accepted form: clients that replay the seed's keys (bench/run.ts) send the key as
            // the answer. "Where's the station, please" is still right, as a typo.
            answer: ["Where is the station, please?"],
            explanation: '"Where is …?" asks for a place; "please" makes it polite.',
          },
        ],
      },
      {
        key: "travel-flashcards",
        kind: "flashcards",
        title: "Flashcards: travel vocabulary",
        order: 4,
        skills: ["travel-vocabulary"],
        cards: [
          {
            front: "boarding pass",
            back: "the document you need to get on a plane",
            example: "Please have your boarding pass ready at the gate.",
          },
          {
            front: "gate",
            back: "the place in an airport where you get on the plane",
            example: "The flight to Dublin leaves from gate 14.",
          },
          {
            front: "check in",
            back: "to show your ticket and leave your bags with the airline, or to arrive and register at a hotel",
            example: "We checked in online the night before.",
          },
          {
            front: "check out",
            back: "to pay and leave a hotel",
            example: "We have to check out by eleven o'clock.",
          },
          {
            front: "delayed",
            back: "later than planned",
            example: "The train is delayed because of the snow.",
          },
          {
            front: "hand luggage",
            back: "a small bag you can take with you on the plane",
            example: "You can take one piece of hand luggage.",
          },
          {
            front: "aisle seat",
            back: "a seat next to the corridor on a plane or train",
            example: "I always ask for an aisle seat on long flights.",
          },
          {
            front: "reservation",
            back: "an arrangement to have a room, table or seat kept for you",
            example: "I have a reservation for two nights.",
          },
          {
            front: "single room",
            back: "a hotel room for one person",
            example: "A single room costs 90 euros a night.",
          },
          {
            front: "return ticket",
            back: "a ticket to a place and back again (American English: round-trip ticket)",
            example: "A return ticket to Oxford, please.",
          },
          {
            front: "platform",
            back: "the place in a station where you get on and off trains",
            example: "The train to Edinburgh leaves from platform 3.",
          },
          {
            front: "go straight on",
            back: "continue in the same direction",
            example: "Go straight on and take the second street on the right.",
          },
          {
            front: "luggage",
            back: "the bags and suitcases you take on a journey (uncountable)",
            example: "How much luggage do you have?",
          },
          {
            front: "sightseeing",
            back: "visiting the famous places in a city",
            example: "We went sightseeing in the old town.",
          },
        ],
      },
    ],
  },
];
