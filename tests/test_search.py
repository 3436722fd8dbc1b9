import pytest

from retriever.question_form import shipped_question_form
from retriever.search import Searcher, UnknownFilter


def test_result_contract(searcher):
    answer = searcher.search("taxi licensing hackney carriage", k=3).to_dict()
    assert set(answer) >= {"question", "answered", "passages"}
    assert answer["question"] == "taxi licensing hackney carriage"
    assert 1 <= len(answer["passages"]) <= 3
    for rank, p in enumerate(answer["passages"], start=1):
        assert p["rank"] == rank
        assert p["text"][p["answer_start"]:p["answer_end"]] == p["answer"]
        assert p["answer"].strip()
        assert 1 <= p["page_start"] <= p["answer_page"] <= p["page_end"]
        assert set(p["document"]) == {"id", "file", "title", "council", "date"}
    scores = [p["score"] for p in answer["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_passage_text_is_the_reports_own_words(searcher):
    index = searcher.index
    for p in searcher.search("counselling support for victims", k=5).passages:
        pages = " ".join(index.page_text(p.document.id, n) for n in range(p.page_start, p.page_end + 1))
        for piece in p.text.split("\n\n"):
            assert piece in pages


def test_finds_the_right_page(searcher):
    top = searcher.search("Multi-Agency Safeguarding Hub MASH Family Connect", k=1).passages[0]
    assert top.document.id == "taxi" and top.answer_page == 3
    assert "Multi-Agency" in top.answer or "Family Connect" in top.answer


def test_answer_marks_the_sentence_that_answers(searcher):
    p = searcher.search("How many young people were at risk of sexual exploitation?", k=1).passages[0]
    assert "72 young people" in p.answer


def test_council_filter(searcher):
    answer = searcher.search("safeguarding", k=10, council="wolverhampton")
    assert answer.passages and {p.document.council for p in answer.passages} == {"Wolverhampton"}


def test_document_filter(searcher):
    answer = searcher.search("safeguarding", k=10, document="taxi.pdf")
    assert {p.document.id for p in answer.passages} == {"taxi"}


def test_unknown_filter_names_the_valid_ones(searcher):
    with pytest.raises(UnknownFilter) as err:
        searcher.search("taxi", council="Atlantis")
    assert "Telford & Wrekin" in str(err.value) and "Wolverhampton" in str(err.value)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_returns_cited_passages(searcher, mode):
    answer = searcher.with_config(mode=mode).search("taxi licensing policy review", k=2)
    assert answer.passages and answer.passages[0].document.id == "taxi"


def test_fts_syntax_in_the_question_is_harmless(searcher):
    for q in ['"unbalanced', "taxi AND NEAR(", "* OR -", "drop table chunks;--", "'); DELETE FROM chunks"]:
        searcher.with_config(mode="lexical").search(q, k=2)


# -- the in-memory layout that keeps SQL out of a search ------------------------------------------
def test_windows_and_their_chunks_agree_with_the_database(searcher):
    import sqlite3

    import numpy as np

    from retriever.build import embedding_text

    index = searcher.index
    conn = sqlite3.connect(index.build / "index.sqlite")
    rows = conn.execute('SELECT id, chunk_id, start, "end" FROM windows ORDER BY chunk_id, start').fetchall()
    chunks = {i: (text, heading) for i, text, heading in conn.execute("SELECT id, text, heading FROM chunks")}
    chunk_ids = sorted({r[1] for r in rows})
    assert len(index.window_batch([]).chunk_ids) == 0 and len(index.window_batch([10**9]).chunk_ids) == 0
    found = index.window_batch(chunk_ids + [10**9])  # an id with no windows is simply absent
    assert found.chunk_ids.tolist() == chunk_ids
    for i, chunk_id in enumerate(chunk_ids):
        a, b = found.offsets[i], found.offsets[i + 1]
        expected = [r for r in rows if r[1] == chunk_id]
        assert list(zip(found.starts[a:b].tolist(), found.ends[a:b].tolist())) == [(r[2], r[3]) for r in expected]
        # each window's vector is its text's, embedded as ingest embeds it (the fake encoder is deterministic)
        text, heading = chunks[chunk_id]
        embedded = searcher.encoder.encode([embedding_text(text[r[2]:r[3]], heading) for r in expected])
        assert np.allclose(found.vectors[a:b], embedded)
    window_ids = [r[0] for r in rows][::2]
    assert index.window_chunks(window_ids + [10**9]) == {r[0]: r[1] for r in rows if r[0] in set(window_ids)}


def test_ids_for_documents(searcher):
    import sqlite3

    index = searcher.index
    conn = sqlite3.connect(index.build / "index.sqlite")
    for docs in (["taxi"], ["board"], ["taxi", "board"], ["nonexistent"]):
        marks = ",".join("?" * len(docs))
        chunks = [r[0] for r in conn.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks}) ORDER BY id", docs)]
        windows = [r[0] for r in conn.execute(f"SELECT w.id FROM windows w JOIN chunks c ON c.id = w.chunk_id "
                                              f"WHERE c.doc_id IN ({marks}) ORDER BY w.id", docs)]
        assert index.chunk_ids_for_documents(docs).tolist() == chunks
        assert index.window_ids_for_documents(docs).tolist() == windows


def test_chunk_cache_stays_bounded_and_correct(searcher, monkeypatch):
    import retriever.store as store

    index = searcher.index
    monkeypatch.setattr(store, "CHUNK_CACHE_SIZE", 3)
    ids = index.chunk_ids_for_documents(["taxi", "board"]).tolist()
    first = index.chunks(ids)
    again = index.chunks(list(reversed(ids)))
    assert len(index._chunk_cache) <= 3
    assert first == again and sorted(again) == sorted(ids)


def _spans_marked(searcher, text, spans, cosines, question):
    import numpy as np

    from retriever.query import plan_query, query_vocabulary
    from retriever.search import _Candidate, _WindowScores
    from retriever.store import ChunkRecord, WindowBatch

    record = ChunkRecord(1, "taxi", 0, text, "", 1, 1, ((1, 0, len(text)),), "")
    bounds = (np.array([s for s, _ in spans]), np.array([e for _, e in spans]))
    batch = WindowBatch(np.array([1]), np.array([0, len(spans)]), *bounds, np.zeros((len(spans), 4)))
    cand = _Candidate(1, 1.0, record, windows=_WindowScores(batch, np.array(cosines)), row=0)
    (start, end), = searcher._answer_spans([cand], plan_query(question, query_vocabulary([], [])))
    return text[start:end]


def test_a_lead_in_ending_in_a_colon_is_marked_with_what_follows(searcher):
    text = ("The report defined three categories of exploitation. These categories are outlined below:\n\n"
            "Inappropriate relationships, the boyfriend model and organised exploitation.\n\nOther text.")
    lead = text.index("These")
    spans = [(0, lead - 1), (lead, text.index("\n\n")), (text.index("Inappropriate"), text.index("\n\nOther")),
             (text.index("Other"), len(text))]
    marked = _spans_marked(searcher, text, spans, [0.0, 0.9, 0.3, 0.0], "what kinds are there")
    assert marked.startswith("These categories") and marked.endswith("organised exploitation.")
    # A window that does not end in a colon is marked alone.
    alone = _spans_marked(searcher, text, spans, [0.0, 0.1, 0.9, 0.0], "what kinds are there")
    assert alone == text[spans[2][0]:spans[2][1]]


def test_what_is_questions_know_their_subject():
    from retriever.query import defines_pattern, definition_subjects

    mash = [("MASH", "Multi-Agency Safeguarding Hub")]
    assert definition_subjects("What is a MASH?", mash) == ("MASH", "Multi-Agency Safeguarding Hub")
    assert definition_subjects("what is Family Connect", []) == ("Family Connect",)
    assert definition_subjects("what does CSE stand for", []) == ("CSE",)
    assert definition_subjects("what did Telford decide on taxi licensing", []) == ()
    assert definition_subjects("what is the thing that the council said it would do about the taxi drivers", []) == ()
    pattern = defines_pattern(("MASH", "Multi-Agency Safeguarding Hub"))
    assert pattern.search("Intro. The Multi Agency Safeguarding Hub (MASH) brings together police and health.")
    assert pattern.search("MASH is a co-located team.")
    assert not pattern.search("The role of the MASH is unclear.")  # not what opens the sentence
    assert not defines_pattern(("Family Connect",)).search("The Family Connect website is in development.")
    assert defines_pattern(()) is None


def test_a_definition_question_prefers_the_passage_that_defines(searcher):
    plain = {p.chunk_id: p for p in searcher.with_config(linear_definition_bonus=0.0).search(
        "what is Family Connect", k=10).passages}
    boosted = {p.chunk_id: p for p in searcher.search("what is Family Connect", k=10).passages}
    defining = [i for i, p in boosted.items() if "Family Connect is" in p.text]
    assert defining and set(plain) == set(boosted)
    for chunk_id, passage in boosted.items():
        gain = passage.score - plain[chunk_id].score
        assert gain == pytest.approx(searcher.config.linear_definition_bonus if chunk_id in defining else 0.0)


def test_the_frame_of_a_question_in_plain_speech_is_not_searched_for():
    from retriever.lexical import query_terms

    # rare in formal reports, so a high IDF: they would outweigh the words that carry the question
    assert query_terms("why don't victims tell anyone what is happening") == ["victims", "happening"]
    assert query_terms("is Telford council going to set up its own local inquiry") == [
        "telford", "council", "set", "local", "inquiry"]
    assert query_terms("who checks whether it actually gets done") == ["checks", "done"]
    # the same frame typed without apostrophes, as into a search box: "dont" is "don't", "thats" is "that's"
    assert query_terms("why dont victims tell anyone whats happening") == ["victims", "happening"]
    assert query_terms("thats what cant be shared") == ["shared"]


def test_question_word_pairs_and_their_share():
    from retriever.lexical import query_bigrams
    from retriever.search import _phrases_held, question_phrases

    assert query_bigrams("Is Telford council going to set up its own local inquiry?") == [
        ("telford", "council"), ("local", "inquiry")]
    assert query_bigrams("what did Telford decide on taxi licensing") == [("telford", "decide"), ("taxi", "licensing")]
    assert query_bigrams("the and of") == []
    phrases = question_phrases("taxi licensing and local inquiries", {"taxi": 1.0, "licens": 1.0, "local": 0.5,
                                                                        "inquir": 2.0})
    def share(text):
        return _phrases_held(phrases, text.lower()) / sum(p.weight for p in phrases)
    assert share("Taxi licensing was reviewed.") == pytest.approx(2.0 / 4.5)
    assert share("a local public inquiry and taxi-licensing rules") == pytest.approx(1.0)  # one word between is fine
    assert share("licensing of taxis; the inquiry was local") == 0.0  # the words, not the pairs


def test_a_question_about_a_term_the_reports_define_is_answered(searcher):
    strict = searcher.with_config(answer_threshold=99.0)  # nothing passes on confidence alone
    assert strict.search("what does MASH stand for").answered
    assert strict.search("What is a MASH?").answered
    assert not strict.search("what does the moon stand for").answered
    assert not strict.search("is the MASH open at weekends").answered  # names the term, asks something else


@pytest.mark.parametrize("question", ["what is it", "???", "why?", "and then what"])
def test_a_question_without_a_word_to_search_is_not_answered(searcher, question):
    lenient = searcher.with_config(answer_threshold=1e-6)  # whatever the closest passage's score
    result = lenient.search(question)
    assert not result.answered and result.confidence == 0.0
    assert lenient.search("how are taxi drivers licensed").answered


def test_the_abstention_threshold_is_the_one_calibrated_for_the_index_model(searcher, monkeypatch):
    from retriever.abstention import AbstentionModel
    from retriever.encoder import MODEL_NAME
    from retriever.search import ABSTENTION_MODELS

    model = searcher.index.manifest["model"]
    assert model not in ABSTENTION_MODELS  # the fake encoder's: the fp32 model's stands in
    assert searcher.abstention_model == ABSTENTION_MODELS[MODEL_NAME]
    assert searcher.answer_threshold == ABSTENTION_MODELS[MODEL_NAME].threshold
    question = "how are taxi drivers licensed"
    confidence = searcher.search(question).confidence
    fitted = ABSTENTION_MODELS[MODEL_NAME]
    monkeypatch.setitem(ABSTENTION_MODELS, model, AbstentionModel(fitted.coefficients, fitted.intercept,
                                                                  confidence + 0.01))
    assert searcher.answer_threshold == confidence + 0.01
    assert not searcher.search(question).answered
    monkeypatch.setitem(ABSTENTION_MODELS, model, AbstentionModel(fitted.coefficients, fitted.intercept,
                                                                  confidence - 0.01))
    assert searcher.search(question).answered
    # a threshold set in the config wins over the calibrated one
    assert not searcher.with_config(answer_threshold=confidence + 0.01).search(question).answered


def test_an_archives_own_abstention_model_serves_the_model_it_was_fitted_for_and_no_other(searcher):
    from retriever.abstention import AbstentionModel, Calibration

    question = "how are taxi drivers licensed"
    built_in = searcher.search(question)
    fitted = searcher.abstention_model
    model = searcher.index.manifest["model"]
    for threshold in (built_in.confidence - 0.01, built_in.confidence + 0.01):
        own = AbstentionModel(fitted.coefficients, fitted.intercept, threshold)
        calibrated = searcher.with_config(calibration=Calibration(model, own))
        assert calibrated.abstention_model is own and calibrated.answer_threshold == threshold
        result = calibrated.search(question)
        assert result.answered == (threshold < built_in.confidence)
        assert result.confidence == pytest.approx(built_in.confidence)
        # saved for a model the index is no longer embedded by (rebuilt since, adapted again): not used
        stale = searcher.with_config(calibration=Calibration("all-MiniLM-L6-v2-adapted-0123456789ab", own))
        assert stale.abstention_model == fitted and stale.search(question).answered == built_in.answered


def test_the_earlier_rule_sums_the_signals_against_its_own_thresholds(searcher, monkeypatch):
    from retriever.encoder import MODEL_NAME
    from retriever.search import ANSWER_THRESHOLDS

    summing = searcher.with_config(abstention="sum")
    model = searcher.index.manifest["model"]
    assert summing.answer_threshold == ANSWER_THRESHOLDS[MODEL_NAME]
    question = "how are taxi drivers licensed"
    result = summing.search(question)
    assert result.confidence == pytest.approx(result.signals["dense"] + result.signals["coverage"])
    monkeypatch.setitem(ANSWER_THRESHOLDS, model, result.confidence + 0.01)
    assert not summing.search(question).answered
    monkeypatch.setitem(ANSWER_THRESHOLDS, model, result.confidence - 0.01)
    assert summing.search(question).answered


def test_the_confidence_is_the_calibrated_models_probability_of_its_signals(searcher):
    from retriever.search import abstention_features

    for question in ("how are taxi drivers licensed", "how many councillors have completed the e-learning",
                     "what colour are the zebras in the council car park"):
        result = searcher.search(question, k=10)
        assert 0.0 < result.confidence < 1.0
        assert result.confidence == pytest.approx(
            searcher.abstention_model.probability(abstention_features(result.signals)))
    # the same signals make the same confidence whatever kind of passage the bonuses move up
    assert searcher.with_config(linear_decision_bonus=0.0).search("taxi licensing").confidence == pytest.approx(
        searcher.search("taxi licensing").confidence)


def test_words_no_report_uses_count_against_an_answer(searcher):
    known = searcher.search("taxi licensing for drivers", k=10).signals
    assert known["unknown_share"] == 0.0
    unknown = searcher.search("taxi licensing for zeppelins", k=10).signals
    assert 0.0 < unknown["unknown_share"] < 1.0
    assert searcher.search("zeppelins", k=10).signals["unknown_share"] == pytest.approx(1.0)


def test_the_result_names_the_words_searched_and_those_no_report_holds(searcher):
    result = searcher.search("How are zeppelins and taxi drivers licensed?")
    assert result.words == ("zeppelins", "taxi", "drivers", "licensed")
    assert result.missing_words == ("zeppelins",)  # "drivers", "licensed": held in another form search matches
    assert result.to_dict()["missing_words"] == ["zeppelins"]
    assert searcher.search("taxi licensing").missing_words == ()
    nothing = searcher.search("what is it?")
    assert nothing.words == () and nothing.missing_words == () and not nothing.answered


def test_the_words_searched_are_the_corrected_question_unless_asked_for_as_typed(searcher):
    corrected = searcher.search("taxi licensinq")
    assert corrected.suggestion is not None and corrected.suggestion_searched
    assert corrected.missing_words == () and "licensing" in corrected.words
    assert "licensinq" in searcher.search("taxi licensinq", correct=False).missing_words


def test_an_unknown_abstention_rule_is_refused():
    from retriever.search import SearchConfig

    with pytest.raises(ValueError, match="logistic or sum"):
        SearchConfig(abstention="vote")


@pytest.mark.parametrize("digest", ["0123456789ab", "fedcba987654"])
def test_an_adapted_models_index_takes_its_familys_calibration_whatever_reports_it_was_adapted_to(searcher,
                                                                                                 monkeypatch, digest):
    from retriever.encoder import MODEL_NAME
    from retriever.onnx_encoder import INT8_SUFFIX
    from retriever.search import ABSTENTION_MODELS, ANSWER_THRESHOLDS

    summing = searcher.with_config(abstention="sum")
    monkeypatch.setitem(searcher.index.manifest, "model", f"{MODEL_NAME}-adapted-{digest}")
    assert searcher.abstention_model == ABSTENTION_MODELS[f"{MODEL_NAME}-adapted"] != ABSTENTION_MODELS[MODEL_NAME]
    assert summing.answer_threshold == ANSWER_THRESHOLDS[f"{MODEL_NAME}-adapted"] != ANSWER_THRESHOLDS[MODEL_NAME]
    monkeypatch.setitem(searcher.index.manifest, "model", f"{MODEL_NAME}-adapted-{digest}{INT8_SUFFIX}")
    assert searcher.abstention_model == ABSTENTION_MODELS[f"{MODEL_NAME}-adapted{INT8_SUFFIX}"]
    assert summing.answer_threshold == ANSWER_THRESHOLDS[f"{MODEL_NAME}-adapted{INT8_SUFFIX}"]


def test_the_named_council_comes_first_then_the_others(searcher):
    answer = searcher.search("safeguarding training for councillors in Telford", k=10)
    assert answer.inferred_council == "Telford & Wrekin"
    councils = [p.document.council for p in answer.passages]
    assert "Wolverhampton" in councils  # the others still follow
    first_other = councils.index("Wolverhampton")
    assert set(councils[:first_other]) == {"Telford & Wrekin"} and "Telford & Wrekin" not in councils[first_other:]
    plain = searcher.with_config(council_first=False).search("safeguarding training for councillors in Telford", k=10)
    assert sorted(p.score for p in plain.passages) == sorted(p.score for p in answer.passages)  # only the order


def test_a_council_is_inferred_from_a_possessive_typed_without_its_apostrophe():
    from retriever.query import infer_council

    aliases = {"telford": "Telford & Wrekin", "wrekin": "Telford & Wrekin", "albans": "St Albans"}
    assert infer_council("how many detectives are on telfords cse team", aliases) == "Telford & Wrekin"
    assert infer_council("what did Telford's cabinet decide", aliases) == "Telford & Wrekin"
    assert infer_council("st albans taxi licensing", aliases) == "St Albans"  # a name that ends in s stays whole
    assert infer_council("telfords and st albans figures", aliases) is None  # two councils: neither
    assert infer_council("how many cabs", aliases) is None


def test_a_council_is_inferred_from_its_initials():
    from retriever.query import council_aliases, infer_council
    from retriever.store import DocumentRecord

    def doc(council, full):
        return DocumentRecord(council, f"{council}.pdf", "a report", council, full, "", None, "", 1, ())

    aliases = council_aliases([doc("Telford & Wrekin", "Telford & Wrekin Council"),
                               doc("Wolverhampton", "City of Wolverhampton Council"),
                               doc("Birmingham", "Birmingham City Council"), doc("Walsall", "Walsall Council"),
                               doc("Bath", "Bath City Council")])
    assert infer_council("what did TWC decide on taxi licensing", aliases) == "Telford & Wrekin"
    assert infer_council("T & W taxi policy", aliases) == infer_council("t&w's policy", aliases) == "Telford & Wrekin"
    assert infer_council("CWC safeguarding board", aliases) == infer_council("cowc", aliases) == "Wolverhampton"
    assert infer_council("Telford & Wrekin taxis", aliases) == "Telford & Wrekin"
    assert "wc" not in aliases  # "Walsall Council": two letters say too little
    assert "bcc" not in aliases and infer_council("BCC cse coordinator", aliases) is None  # Birmingham's or Bath's


def test_bm25_queries_leave_out_words_most_chunks_hold():
    from retriever.search import ranking_terms

    # FTS5's BM25 gives a word in half the chunks or more an IDF of ~0: it orders nothing
    assert ranking_terms({"cse": 12, "taxi": 3, "licensing": 9}, 20) == ["taxi", "licensing"]
    assert ranking_terms({"cse": 10, "taxi": 3}, 21) == ["cse", "taxi"]  # 10 of 21: still under half
    assert ranking_terms({"cse": 15, "council": 18}, 20) == ["cse", "council"]  # nothing else: keep them all
    assert ranking_terms({}, 20) == []


def test_a_question_of_only_common_words_still_gets_lexical_hits(searcher, monkeypatch):
    lexical = searcher.with_config(mode="lexical")
    before = [p.chunk_id for p in lexical.search("taxi licensing", k=3).passages]
    monkeypatch.setattr(searcher.index, "chunk_count", 4)  # 3 of 8 fixture chunks hold each: now "most"
    after = [p.chunk_id for p in lexical.search("taxi licensing", k=3).passages]
    assert before and after == before


def test_phrase_scan_matches_at_word_starts_only():
    import re

    from retriever.search import _has_phrase

    pattern = re.compile(r"local\w*(?:\W+\w+)?\W+inquir")
    assert _has_phrase(pattern, "a local inquiry")
    assert _has_phrase(pattern, "local inquiries")  # at the very start
    assert _has_phrase(pattern, "the glocal one; then a local public inquiry")  # the first hit is inside a word
    assert not _has_phrase(pattern, "a glocal inquiry")
    assert not _has_phrase(pattern, "_local inquiry")  # \w holds the underscore, as \b would
    assert not _has_phrase(pattern, "a local and public inquiry")  # two words between


def test_acronym_questions_and_the_passages_that_introduce_the_acronym():
    from retriever.query import QueryPlan
    from retriever.cues import asked_acronyms, introduces_pattern

    def plan(question, defines=()):
        return QueryPlan(question, question, (), None, False, (("CEOP", "Child Exploitation and Online Protection Centre"),),
                         defines)
    assert asked_acronyms(plan("CEOP")) == ("CEOP",)
    assert asked_acronyms(plan("child exploitation and online protection centre?")) == ("CEOP",)
    assert asked_acronyms(plan("what does CEOP stand for", ("CEOP",))) == ("CEOP",)
    assert asked_acronyms(plan("did CEOP train the taxi drivers")) == ()  # names it, asks something else
    pattern = introduces_pattern(("CEOP", "SEMT"))
    assert pattern.search("According to the Child Exploitation and Online Protection Centre (CEOP) most offences")
    assert pattern.search("4.4 The course is mandatory.\n\nSEMT – Sexually Exploited Missing and Trafficked Committee")
    assert pattern.search('the Children Abused Through Exploitation, ("CEOP"), team')
    assert pattern.search("practice.\n4.5 SEMT – Sexually Exploited Missing and Trafficked Committee")  # numbered
    assert pattern.search("groups:\n• SEMT: the Sexually Exploited Missing and Trafficked Committee")  # bulleted
    assert not pattern.search("Young people talked about clicking the CEOP red button.")
    assert not pattern.search("In 2015 SEMT - its chair - reported to the board.")  # mid-line, not a line's opening
    assert introduces_pattern(()) is None


def test_an_acronym_alone_prefers_the_passage_that_introduces_it(searcher):
    plain = {p.chunk_id: p for p in searcher.with_config(linear_introduction_bonus=0.0).search("MASH", k=10).passages}
    boosted = {p.chunk_id: p for p in searcher.search("MASH", k=10).passages}
    introducing = [i for i, p in boosted.items() if "(MASH)" in p.text]
    assert introducing and set(plain) == set(boosted) and len(introducing) < len(boosted)
    for chunk_id, passage in boosted.items():
        assert passage.score - plain[chunk_id].score == pytest.approx(
            searcher.config.linear_introduction_bonus if chunk_id in introducing else 0.0)


def test_what_a_question_asks_for_and_what_states_it():
    from retriever.cues import answer_type_pattern, states

    quantity = answer_type_pattern("How many young people were at risk?")
    assert quantity is answer_type_pattern("what percentage of drivers were trained")
    assert answer_type_pattern("what is Family Connect") is None
    assert states(quantity, "In total 72 young people were assessed")
    assert states(quantity, "a budget of £350,000") and states(quantity, "53 (41%) involved")
    assert states(quantity, "31 of the young people were female")
    assert not states(quantity, "5.6.6 The Committee heard evidence from the police")  # a paragraph number
    assert not states(quantity, "2. Purpose of the report\n(3) that the Cabinet note it")  # list markers
    assert not states(quantity, "What is Grooming?.....\t7\nWho is at risk?..... 8")  # a contents page's pages
    assert states(quantity, "Who is at risk?..... 8\nIn total 72 young people were assessed")
    assert not states(quantity, "In 2015 the Board reviewed its policy")  # a year is not a quantity
    date = answer_type_pattern("when did Wolverhampton open its MASH")
    assert date is not quantity and answer_type_pattern("In what year was the hub opened?") is date
    assert states(date, "The MASH opened on 5 January 2016") and not states(date, "The MASH is open daily")


def test_a_quantity_question_prefers_the_passage_whose_answer_states_one(searcher):
    question = "How many young people were at risk of sexual exploitation?"
    plain = {p.chunk_id: p for p in searcher.with_config(linear_answer_type_bonus=0.0).search(question, k=10).passages}
    boosted = {p.chunk_id: p for p in searcher.search(question, k=10).passages}
    assert set(plain) == set(boosted)
    gains = {i: p.score - plain[i].score for i, p in boosted.items()}
    bonus = searcher.config.linear_answer_type_bonus
    assert all(g == pytest.approx(bonus) or g == pytest.approx(0.0) for g in gains.values())
    counted = [i for i, p in boosted.items() if "72 young people" in p.answer]
    assert counted and gains[counted[0]] == pytest.approx(bonus)
    assert any(g == pytest.approx(0.0) for g in gains.values())  # not every passage
    other = "counselling support for victims"  # asks for no number: no bonus anywhere
    assert [p.score for p in searcher.search(other, k=10).passages] == [
        p.score for p in searcher.with_config(linear_answer_type_bonus=0.0).search(other, k=10).passages]


def test_a_passage_under_a_decision_heading_counts_as_a_decision(searcher, monkeypatch):
    from dataclasses import replace

    from retriever.cues import decision_heading

    assert decision_heading("RECOMMENDATIONS") and decision_heading("RESOLVED that –")
    assert decision_heading("Recommendation 9: Sexual Health Services")
    assert not decision_heading("Licensing policies") and not decision_heading("")
    index = searcher.index
    chunks = index.chunks
    # the taxi licensing passage (not a decision by its own words), as if it stood under "RECOMMENDATIONS"
    def under_recommendations(ids):
        return {i: (replace(r, heading="RECOMMENDATIONS") if r.heading == "Taxi Licensing" else r)
                for i, r in chunks(ids).items()}
    monkeypatch.setattr(index, "chunks", under_recommendations)
    question = "what did the council decide about taxi licensing"
    plain = {p.chunk_id: p for p in searcher.with_config(decision_headings=False).search(question, k=10).passages}
    boosted = {p.chunk_id: p for p in searcher.search(question, k=10).passages}
    moved = [i for i, p in boosted.items() if "Officers told us that drivers" in p.text]
    assert moved and set(plain) == set(boosted)
    for chunk_id, passage in boosted.items():
        assert passage.score - plain[chunk_id].score == pytest.approx(
            searcher.config.linear_decision_bonus if chunk_id in moved else 0.0)


def test_confidence_reads_the_passages_closest_in_words_and_meaning_not_the_bonuses(searcher):
    question = "safeguarding training for councillors in Telford"
    plain = searcher.with_config(council_first=False, linear_decision_bonus=0.0).search(question, k=10)
    reordered = searcher.search(question, k=10)  # Telford's passages first
    assert [p.chunk_id for p in reordered.passages[:3]] != [p.chunk_id for p in plain.passages[:3]]
    assert reordered.confidence == pytest.approx(plain.confidence)


def test_confidence_counts_the_question_words_one_passage_holds(searcher):
    # "taxi licensing" is in one report's passages, "counselling" in the other's: no passage holds both
    question = "taxi licensing and counselling"
    deep = searcher.with_config(coverage_depth=10)
    one = deep.search(question, k=10).signals["coverage"]
    together = deep.with_config(coverage_in_one_passage=False).search(question, k=10).signals["coverage"]
    assert together == pytest.approx(1.0) and 0.0 < one < 0.9
    # a passage of Wolverhampton's report holds "Wolverhampton" though its text does not say it
    question = "counselling support for victims in Wolverhampton"
    assert deep.search(question, k=10).signals["coverage"] == pytest.approx(1.0)
    assert deep.with_config(council_in_passages=False).search(question, k=10).signals["coverage"] < 0.9


def test_a_quantity_question_needs_a_sentence_that_states_one_among_its_words(searcher):
    untyped = searcher.with_config(typed_coverage=False)
    # the passages hold "councillors" and "e-learning", and figures, but no sentence states a number of councillors
    asked = "how many councillors have completed the e-learning"
    result = searcher.search(asked, k=10)
    assert result.signals["typed_coverage"] < result.signals["coverage"]
    assert result.confidence < untyped.search(asked, k=10).confidence
    # "72 young people were assessed as being at risk": the figure's own sentence holds the question's words
    stated = searcher.search("how many young people were assessed as being at risk", k=10).signals
    assert stated["typed_coverage"] == pytest.approx(stated["coverage"]) and stated["coverage"] > 0.5
    # a question that asks for no quantity or date is read as before
    plain = "counselling support for victims"
    assert "typed_coverage" not in searcher.search(plain).signals
    assert searcher.search(plain).confidence == untyped.search(plain).confidence


def test_the_typed_share_sets_how_much_of_the_coverage_the_stating_sentence_gives(searcher):
    asked = "how many councillors have completed the e-learning"
    for weight in (0.0, 0.5, 1.0):
        result = searcher.with_config(typed_share=weight, abstention="sum").search(asked, k=10)
        signals = result.signals
        coverage = (1 - weight) * signals["coverage"] + weight * signals["typed_coverage"]
        assert result.confidence == pytest.approx(signals["dense"] + coverage)
    # the default reads the sentence alone: the passages' figures are not the councillors'
    alone = searcher.with_config(abstention="sum").search(asked, k=10)
    assert alone.confidence == pytest.approx(alone.signals["dense"] + alone.signals["typed_coverage"])


def test_a_passage_holds_its_reports_council_among_the_question_words(searcher):
    # "Telford" in the question: a passage of Telford & Wrekin's report holds it though its text may not
    # say it, and scores as if it did; the other council's passages, and those that say it, score the same.
    question = "safeguarding training for councillors in Telford"
    plain = {p.chunk_id: p for p in searcher.with_config(council_in_passages=False).search(question, k=20).passages}
    held = {p.chunk_id: p for p in searcher.search(question, k=20).passages}
    assert held.keys() >= plain.keys()  # a passage that scored nothing may now score
    raised = {i for i in plain if held[i].score > plain[i].score + 1e-9}
    says_telford = {i for i in plain if "telford" in held[i].text.lower()}
    of_telford = {i for i in plain if held[i].document.council == "Telford & Wrekin"}
    assert raised and raised == of_telford - says_telford
    assert all(held[i].score == pytest.approx(plain[i].score) for i in plain.keys() - raised)
    assert all(held[i].document.council == "Telford & Wrekin" for i in held.keys() - plain.keys())


def _every_term_tried(question, terms, council_docs):
    """find_expansions' rule applied to every term in turn, as a reference for its lookup."""
    import re

    from retriever.lexical import STOPWORDS

    found = {}
    for t in terms:
        if council_docs is not None and t.doc_id not in council_docs:
            continue
        term = t.term.rstrip("s") if t.term.endswith("s") and t.term[:-1].isupper() else t.term
        if len(term) < 2 or term.lower() in STOPWORDS:
            continue
        whole = re.search(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", question, re.IGNORECASE)
        from_word_start = re.search(rf"(?<![A-Za-z]){re.escape(t.expansion)}", question, re.IGNORECASE)
        if whole or from_word_start:
            found[(term, t.expansion)] = None
    return list(found)


def test_a_question_tries_only_the_terms_it_could_touch_and_finds_what_trying_every_term_finds():
    import random

    from retriever.query import find_expansions, query_vocabulary
    from retriever.store import TermRecord

    rng = random.Random(7)
    words = ["hub", "safe", "guarding", "child", "ex", "next", "care", "cse", "mash", "board", "health", "2020"]
    terms = []
    for i in range(300):
        acronym = "".join(rng.choice("ABCHMSEX2") for _ in range(rng.randint(1, 4))) + rng.choice(["", "s"])
        long_form = rng.choice([" ", "-", " & "]).join(rng.choice(words).title() for _ in range(rng.randint(1, 3)))
        terms.append(TermRecord(f"doc{i % 3}", acronym, long_form, 1, ""))
    vocabulary = query_vocabulary([], terms)
    for _ in range(400):
        question = " ".join(rng.choice(words + [t.term for t in terms[:40]] + ["hubs", "unhealthy", "(mash)", "x-safe"])
                            for _ in range(rng.randint(1, 6)))
        for council_docs in (None, {"doc0", "doc2"}):
            assert find_expansions(question, vocabulary, council_docs) == _every_term_tried(question, terms,
                                                                                            council_docs)


def test_a_long_form_counts_from_the_start_of_a_word_and_an_acronym_as_a_whole_word():
    from retriever.query import find_expansions, query_vocabulary
    from retriever.store import TermRecord

    vocabulary = query_vocabulary([], [TermRecord("d", "MASH", "Multi-Agency Safeguarding Hub", 1, ""),
                                       TermRecord("d", "PH", "Public Health", 1, "")])
    mash = ("MASH", "Multi-Agency Safeguarding Hub")
    assert find_expansions("multi-agency safeguarding hubs in Telford", vocabulary, None) == [mash]  # plural
    assert find_expansions("what is a MASH?", vocabulary, None) == [mash]
    assert find_expansions("the MASHED potatoes", vocabulary, None) == []
    assert find_expansions("republic health reforms", vocabulary, None) == []  # inside a word: not the long form
    assert find_expansions("public healthcare", vocabulary, None) == [("PH", "Public Health")]


def test_the_answer_window_is_the_sentence_that_states_what_the_question_asks_for():
    import re

    from retriever.cues import answer_type_pattern, states
    from retriever.lexical import stems
    from retriever.search import answer_window

    text = ("Of 102 children at some risk, 24 are at serious risk. Risk is assessed for every child at serious risk "
            "of exploitation in Walsall.")
    spans = [(0, 53), (54, len(text))]
    wanted = frozenset(stems("how many Walsall children are at serious risk of exploitation"))
    quantity = answer_type_pattern("how many Walsall children are at serious risk of exploitation")
    # the second sentence holds more of the question's words; the first states the number asked for
    assert answer_window(text, spans, None, wanted, []) == spans[1]
    cue = [(lambda sentence: states(quantity, sentence), 0.15)]
    assert answer_window(text, spans, None, wanted, cue) == spans[0]
    # closeness in meaning still counts: a much closer sentence keeps the mark
    assert answer_window(text, spans, [0.2, 0.6], wanted, cue) == spans[1]
    defines = re.compile(r"^Family Connect is")
    text = "It takes calls from anyone. Family Connect is the front door."
    spans = [(0, 27), (28, len(text))]
    assert answer_window(text, spans, [0.5, 0.4], frozenset(), [(lambda s: bool(defines.search(s)), 0.15)]) == spans[1]


def test_the_answer_page_is_the_one_that_holds_most_of_the_answer():
    from retriever.search import page_of_span
    from retriever.store import ChunkRecord

    foot = "Understanding of children placed"  # a heading at the foot of page 34
    body = "6.4.12 Children from outside the city can be placed in homes here."
    text = f"{foot}\n\n{body}"
    spans = ((34, 100, 100 + len(foot)), (35, 0, len(body)))
    record = ChunkRecord(1, "doc", 0, text, "", 34, 35, spans, "")
    assert page_of_span(record, 0, len(text)) == 35  # the heading and the sentence: the sentence's page
    assert page_of_span(record, 0, len(foot)) == 34
    assert page_of_span(record, len(foot) + 2, len(text)) == 35
    assert page_of_span(record, 0, len(foot) + 2 + len(foot)) == 34  # as much on each: the first
    assert page_of_span(record, len(foot) + 1, len(foot) + 1) == 35  # empty, in the join: the next page


def test_lexical_mode_has_no_sentences_to_read_for_typed_coverage(searcher):
    lexical = searcher.with_config(mode="lexical")
    asked = "how many young people were assessed as being at risk"
    signals = lexical.search(asked, k=10).signals
    assert "typed_coverage" not in signals
    assert signals["coverage"] == lexical.with_config(typed_coverage=False).search(asked, k=10).signals["coverage"]


def test_a_question_is_the_same_question_with_or_without_its_closing_mark(searcher):
    from retriever.query import plan_query, query_vocabulary

    vocabulary = query_vocabulary([], [])
    assert {plan_query(q, vocabulary).dense_text for q in ("what is a MASH", "what is a MASH?", "what is a MASH ?! ")} \
        == {"what is a MASH"}
    assert plan_query("?", vocabulary).dense_text == "?"  # nothing else to embed
    embedded = []

    class Recording:
        name, dimension = searcher.encoder.name, searcher.encoder.dimension

        def encode(self, texts):
            embedded.extend(texts)
            return searcher.encoder.encode(texts)

    asking = Searcher(searcher.index, Recording(), searcher.config)
    marked = asking.search("taxi licensing policy?", k=5).to_dict()
    assert marked["question"] == "taxi licensing policy?" and embedded == ["taxi licensing policy"]


def test_a_slip_is_searched_as_the_reports_spell_it_and_said(searcher):
    typed = searcher.search("what did Shropshrie revise", k=3)
    assert typed.suggestion is not None and typed.suggestion_searched
    assert typed.suggestion.question == "what did Shropshire revise" and typed.question == "what did Shropshrie revise"
    spelt = searcher.search("what did Shropshire revise", k=3)
    assert spelt.suggestion is None and not spelt.suggestion_searched
    assert [p.text for p in typed.passages] == [p.text for p in spelt.passages]
    # the passages' signals are the spelt question's; the question form reads the question as asked
    assert ({k: v for k, v in typed.signals.items() if k != "question_form"}
            == {k: v for k, v in spelt.signals.items() if k != "question_form"})
    assert typed.signals["question_form"] == pytest.approx(shipped_question_form().log_odds(typed.question))
    assert typed.to_dict()["spelling"] == {"question": "what did Shropshire revise", "searched": True,
                                           "corrections": [{"typed": "shropshrie", "suggested": "shropshire"}]}
    assert spelt.to_dict()["spelling"] is None
    # as typed: the slip is searched, and the correction still offered
    as_typed = searcher.search("what did Shropshrie revise", k=3, correct=False)
    assert as_typed.to_dict()["spelling"]["searched"] is False
    unchecked = searcher.with_config(spelling=False).search("what did Shropshrie revise", k=3)
    assert unchecked.suggestion is None
    assert [p.text for p in as_typed.passages] == [p.text for p in unchecked.passages]
    assert as_typed.confidence == unchecked.confidence != typed.confidence


def test_words_the_reports_hold_or_english_spells_are_not_slips(searcher):
    for question in ("taxi licensing policies in the borough", "counselling for kids", "what about vapes"):
        assert searcher.search(question, k=1).suggestion is None


def test_the_question_form_reads_the_question_as_asked_and_the_ablation_reads_none_of_it(searcher):
    form = shipped_question_form()
    for question in ("how much money did the council spend on taxis", "what did cabinet decide about taxis",
                     "what is it"):  # the last has no word to search: its signals are few, the form among them
        assert searcher.search(question, k=10).signals["question_form"] == pytest.approx(form.log_odds(question))
    assert form.log_odds("how much money did it cost") < form.prior < form.log_odds("what did cabinet recommend")
    ablated = searcher.with_config(question_form=False)
    assert ablated.search("how much money", k=10).signals["question_form"] == pytest.approx(form.prior)
