"""The injection rule table (English, German, a little Spanish): data, no logic.

Each rule has a family and a weight: the weight is how sure we are that a
match is an attack *on its own* (0.9 = "ignore all previous instructions",
0.5 = "act as a storyteller", which is benign in many products but is the
classic role-switch in the deepset data). ``squashed`` rules match the
letters-only view, which defeats any separator trick.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = (
    "override",
    "exfiltrate",
    "roleplay",
    "jailbreak",
    "delimiter",
    "embedded_instruction",
    "new_task",
    "output_control",
)

_GAP = r"(?:[\s,;:.'\"!-]+[\w'-]+){0,4}?[\s,;:.'\"!-]+"  # up to four words in between
_ANY = r"(?:all|any|every|each|the|your|my|our|these|those|this|of|previous|prior|above|earlier|preceding|initial|original|old|current|system|given|provided|existing|former|following|everything|what)"
_TARGET_EN = (
    r"(?:instruction|direction|rule|prompt|guideline|context|command|order|task|constraint|"
    r"programming|polic(?:y|ie)|guardrail|restriction|filter|assignment|message|article|text|"
    r"input|conversation|information)s?"
)
_SAID = r"(?:said|told|written|stated|discussed|talked about|mentioned|given|asked|wrote)"


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    weight: float
    pattern: str
    squashed: bool = False  # match against the letters-only view instead


RULES: tuple[Rule, ...] = (
    # --- override: make the model drop its instructions --------------------------
    Rule(
        "ignore_previous_instructions",
        "override",
        0.95,
        rf"\b(?:ignore|ignoring|disregard|forget|skip|override|overrule|bypass|neglect|abandon|"
        rf"drop|discard)\b{_GAP}?(?:{_ANY}\s+){{0,3}}{_TARGET_EN}\b",
    ),
    Rule(
        "ignore_the_above",
        "override",
        0.9,
        r"\b(?:ignore|disregard|forget)\b\s+(?:all\s+|everything\s+)?"
        r"(?:the\s+|that\s+)?(?:above|before|prior|previous|preceding|earlier)\b",
    ),
    Rule(
        "forget_everything",
        "override",
        0.9,
        rf"\b(?:forget|ignore|disregard)\s+(?:about\s+)?(?:everything|all|what)\b"
        rf"(?:{_GAP})?(?:{_SAID}|before|so far|previous|above|earlier|until now)",
    ),
    Rule(
        "forget_everything_short",
        "override",
        0.85,
        r"\b(?:forget|olvide|olvida)\s+(?:everything|all|todo)\b",
    ),
    Rule(
        "do_not_follow",
        "override",
        0.85,
        rf"\b(?:do not|don't|stop|never)\s+(?:follow|obey|listen to|apply)\b{_GAP}?(?:{_ANY}\s+){{0,3}}"
        rf"{_TARGET_EN}",
    ),
    Rule(
        "instructions_no_longer_apply",
        "override",
        0.85,
        rf"\b{_TARGET_EN}\s+(?:(?:are|is)\s+)?(?:no longer|not)\s+(?:valid|apply|applicable|in effect|relevant)",
    ),
    Rule(
        "de_ignore_instructions",
        "override",
        0.95,
        r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen|vergesst|missachte(?:n)?|übergeh(?:e|en)?|"
        r"verwirf|verwerfen)\b(?:\s+\w+){0,5}?\s+(?:anweisung(?:en)?|instruktion(?:en)?|befehl(?:e)?|"
        r"regel(?:n)?|aufgabe(?:n)?|auftr(?:ag|äge)|angaben|vorgaben|gesagte|obige|kontext|artikel)\b",
    ),
    Rule(
        "de_forget_everything",
        "override",
        0.9,
        r"\b(?:vergiss|vergessen sie|vergesst|ignoriere|ignorieren sie)\s+(?:bitte\s+)?(?:alles|das obige|"
        r"alle)\b",
    ),
    Rule(
        "es_ignore",
        "override",
        0.9,
        r"\b(?:ignora|ignore|olvida|olvide)\s+(?:todas?\s+)?(?:las\s+|lo\s+|tus\s+)?(?:instrucciones|"
        r"anteriores|todo lo que)\b",
    ),
    Rule(
        "squashed_ignore",
        "override",
        0.95,
        "ignoreallpreviousinstructions|ignorepreviousinstructions|ignoreallinstructions|"
        "ignoreyourinstructions|disregardallpreviousinstructions|disregardpreviousinstructions|"
        "forgetallpreviousinstructions|forgetyourinstructions|ignoretheaboveinstructions|"
        "ignorealleanweisungen|ignorieredievorherigenanweisungen|vergissalleanweisungen",
        squashed=True,
    ),
    # --- exfiltrate: reveal the prompt / hidden instructions ----------------------
    Rule(
        "reveal_system_prompt",
        "exfiltrate",
        0.9,
        r"\b(?:reveal|show|print|repeat|output|display|tell|give|leak|dump|share|list|spell|write|"
        r"return|recite|paste|copy|what (?:is|are|were|was))\b(?:\s+\S+){0,5}?\s+"
        r"(?:(?:your|the|my|its|initial|original|hidden|secret|internal|system|above|previous|full|"
        r"complete|all)\s+){1,3}(?:system\s+)?(?:prompt(?:s|\s+texts?)?|instructions|directions|"
        r"rules|guidelines|configuration|initialization)\b",
    ),
    Rule(
        "system_prompt_mention",
        "exfiltrate",
        0.4,
        r"\b(?:system prompt|initial prompt|prompt texts?|hidden prompt|pre-?prompt|"
        r"original instructions|initial instructions)\b",
    ),
    Rule(
        "spellcheck_above",
        "exfiltrate",
        0.85,
        r"\b(?:spell-?\s?check|print|repeat|translate|summari[sz]e|correct)\b(?:\s+\w+){0,5}?\s+"
        r"(?:(?:all|the|of|text|prompt)\s+){0,3}(?:above|previous|preceding)\b",
    ),
    Rule(
        "de_reveal_prompt",
        "exfiltrate",
        0.9,
        r"\b(?:zeig|zeige|zeigen sie|gib|geben sie|nenne|nennen sie|drucke|drucken sie|verrate|"
        r"wiederhole|schreib)\b(?:\s+\S+){0,5}?\s+(?:(?:deine|ihre|alle|die|den|das|obige|"
        r"ursprünglichen|versteckten|system)\s+){0,3}(?:prompt(?:-?texte?)?|systemprompt|"
        r"system-prompt|anweisungen|eingabeaufforderung|instruktionen)\b",
    ),
    Rule(
        "de_prompt_mention",
        "exfiltrate",
        0.4,
        r"\b(?:prompt-?texte?|systemprompt|system-prompt|ursprünglichen anweisungen|"
        r"obige eingabeaufforderung)\b",
    ),
    Rule(
        "what_were_you_told",
        "exfiltrate",
        0.7,
        r"\bwhat (?:were|was) (?:you|your) (?:told|instructed|initial|original|programmed)\b",
    ),
    # --- roleplay: switch the model into another persona -------------------------
    Rule(
        "you_are_now",
        "roleplay",
        0.75,
        r"\b(?:you are|you're|you will be|you'll be) (?:now|no longer|from now on)\b",
    ),
    Rule("from_now_on", "roleplay", 0.45, r"\bfrom now on\b"),
    Rule(
        "pretend_to_be",
        "roleplay",
        0.6,
        r"\b(?:pretend|imagine) (?:to be|you are|you're|that you are)\b",
    ),
    Rule(
        "act_as_persona",
        "roleplay",
        0.55,
        r"\b(?:i want you to|you will|you must|you should|please|now)\s+(?:act|behave|respond|"
        r"answer|speak|talk|reply)\s+(?:as|like)\s+(?:an?|the|my)?\s*\w+",
    ),
    Rule(
        "roleplay_game",
        "roleplay",
        0.6,
        r"\b(?:let's|lets|we will|we'll) play (?:a )?(?:game|role)|\brole-?play(?:ing)?\b",
    ),
    Rule(
        "hypothetical_persona",
        "roleplay",
        0.55,
        r"\b(?:theoretical|hypothetical|fictional) (?:world|scenario|story)\b(?:\s+\S+){0,8}?\s+"
        r"\byou (?:are|were)\b",
    ),
    Rule(
        "de_roleplay",
        "roleplay",
        0.6,
        r"\b(?:du bist (?:jetzt|nun|ab sofort)|ab (?:jetzt|sofort) bist du|tu so,? als|"
        r"ich möchte,? dass (?:sie|du) als \w+ (?:agieren|auftreten|fungieren|handeln)|"
        r"(?:agieren|auftreten|fungieren) sie als|stell dir vor,? du bist|"
        r"spielen wir|rollenspiel)\b",
    ),
    Rule(
        "de_you_are_persona",
        "roleplay",
        0.5,
        r"\b(?:du bist|sie sind) (?:ein|eine|der|die) \w+(?:in)?\b[.!]",
    ),
    # --- jailbreak: known persona names and "no rules" framing ----------------------
    Rule(
        "dan_persona",
        "jailbreak",
        0.95,
        r"\b(?:dan|d\.a\.n\.?|stan|dude|aim|kevin)\b(?:\s+\S+){0,6}?\s+(?:mode|persona|jailbreak|"
        r"do anything now|can do anything)|\bdo anything now\b",
    ),
    Rule(
        "developer_mode",
        "jailbreak",
        0.9,
        r"\b(?:developer|dev|god|admin|debug|sudo|unrestricted|jailbreak|jailbroken|evil)\s?mode\b",
    ),
    Rule(
        "no_restrictions",
        "jailbreak",
        0.85,
        r"\b(?:without|no|free of|free from|ignore|remove|disable|bypass)\s+(?:any\s+|all\s+|your\s+)?"
        r"(?:restrictions|filters|filtering|censorship|limitations|guardrails|safety|ethical|moral|"
        r"content polic(?:y|ies)|rules)\b",
    ),
    Rule("jailbreak_word", "jailbreak", 0.8, r"\bjail-?brea(?:k|king|ked)\b"),
    Rule(
        "unfiltered_ai",
        "jailbreak",
        0.8,
        r"\b(?:unfiltered|uncensored|unrestricted|amoral|unethical|evil|rogue)\s+(?:ai|assistant|model|"
        r"chatbot|bot|version|llm)\b",
    ),
    Rule(
        "de_no_restrictions",
        "jailbreak",
        0.85,
        r"\bohne (?:jegliche |alle |irgendwelche )?(?:einschränkungen|filter|zensur|regeln|grenzen)\b",
    ),
    # --- delimiter: fake end of context / fake role markers -------------------------
    Rule(
        "closing_tag",
        "delimiter",
        0.85,
        r"</\s*(?:system|instructions?|context|user|assistant|document|prompt|rules|query|input|"
        r"article|data)\s*>",
    ),
    Rule(
        "chat_template_token",
        "delimiter",
        0.9,
        r"<\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id)\|>|\[/?inst\]|"
        r"<<\s*/?sys\s*>>",
    ),
    Rule(
        "fake_role_header",
        "delimiter",
        0.75,
        r"(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|assistant|admin|developer)\s*(?:message|prompt)?\s*:\s*\S",
    ),
    Rule(
        "end_marker",
        "delimiter",
        0.8,
        r"\bend of (?:the )?(?:prompt|instructions|context|system message|document)\b|"
        r"-{3,}\s*(?:new|begin) (?:instructions|prompt)",
    ),
    Rule("escaped_newline_injection", "delimiter", 0.6, r"(?:\\n){2,}"),
    # --- embedded: an instruction aimed at the AI inside quoted material -------------
    Rule(
        "address_the_ai",
        "embedded_instruction",
        0.85,
        r"\b(?:ai|assistant|chatbot|language model|llm|model|gpt|claude|bot)\s*[,:]\s*(?:please\s+)?"
        r"(?:ignore|disregard|forget|you must|you should|you will|from now|reveal|print|say|output)\b",
    ),
    Rule(
        "note_to_ai",
        "embedded_instruction",
        0.85,
        r"\b(?:note|message|instructions?|attention|important)\s+(?:to|for)\s+(?:the\s+)?(?:ai|"
        r"assistant|model|language model|llm|chatbot|bot)\b",
    ),
    Rule(
        "if_you_are_an_ai",
        "embedded_instruction",
        0.8,
        r"\bif you are (?:an?|the) (?:ai|assistant|language model|llm|chatbot)\b",
    ),
    # --- new_task: "well done, now a new task" --------------------------------------
    Rule(
        "new_task",
        "new_task",
        0.75,
        r"\b(?:now|next|here)\s+(?:comes?|is|are)\s+(?:a\s+|your\s+|the\s+)?(?:new|next|second|real|"
        r"actual|different)\s+(?:task|tasks|assignment|order|orders|instruction|instructions|test|"
        r"challenge|mission)\b",
    ),
    Rule(
        "new_instructions",
        "new_task",
        0.7,
        r"\b(?:new|updated|real|actual|different|additional|secret)\s+(?:instructions?|orders?|"
        r"assignment|directives?|rules)\s*(?::|follow|are|is)",
    ),
    Rule(
        "focus_only_on",
        "new_task",
        0.6,
        r"\b(?:concentrate|focus) (?:only )?on (?:this|your new|the new|the next)\b",
    ),
    Rule(
        "de_new_task",
        "new_task",
        0.75,
        r"\b(?:jetzt|nun|hier)\s+(?:kommt|kommen|folgt|folgen)\s+(?:eine\s+|die\s+|der\s+|neue\s+)?"
        r"(?:neue|nächste|zweite)?\s*(?:aufgabe|aufgaben|auftrag|test)\b|\bneue aufgabe\b|"
        r"\bkonzentrier(?:e|en sie)? (?:dich|sich) (?:jetzt |nur )?(?:auf|nur)\b",
    ),
    # --- output_control: force a fixed answer ----------------------------------------
    Rule(
        "respond_only_with",
        "output_control",
        0.6,
        r"\b(?:respond|reply|answer)\s+(?:to\s+)?(?:all|every|each|any)?\s*(?:questions?|prompts?|"
        r"messages?)?\s*(?:only\s+)?with\s*[:\"'“]",
    ),
    Rule(
        "say_exactly",
        "output_control",
        0.5,
        r"\b(?:say|print|output|write|sage|schreibe|antworte mit)\s+(?:only\s+|just\s+|exactly\s+)?"
        r"[\"“'][^\"”']{1,40}[\"”']",
    ),
    Rule(
        "must_always_answer",
        "output_control",
        0.55,
        r"\b(?:you are supposed to|you must|you have to) answer (?:at all times|every|always|no matter)",
    ),
)
