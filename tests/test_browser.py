"""O site num navegador de verdade: Chromium sem interface, sem acesso à rede.

O site construído é servido em 127.0.0.1 e cada página do sumário é aberta em largura de
computador (1280 px) e de celular (390 px). O Chromium sai com um proxy inexistente e com a
resolução de nomes desligada, de modo que qualquer pedido para fora do computador falha; além
disso, o registro de rede do navegador é lido e qualquer pedido que não seja para 127.0.0.1
reprova o teste. Assim se confere que a matemática é desenhada só com o MathJax do próprio site.

As capturas de tela (a página inteira, até 16 000 px de altura) ficam em ``_build/screenshots/``
(``<página>-1280.png`` e ``<página>-390.png``), com os números de cada página em ``resumo.json``.
Sem o Chromium e o ChromeDriver o teste falha (não é pulado): ``make sysdeps`` os instala.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT, chapter_notebooks, toc_files

SCREENSHOTS = ROOT / "_build" / "screenshots"
WIDTHS = {"1280": (1280, 900, False), "390": (390, 844, True)}  # largura: (w, h, celular?)
MAX_SCREENSHOT_HEIGHT = 16000  # px: o Chromium não captura além disso de uma vez
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
    # bloqueio da rede: todo pedido que não vai para o próprio computador passa por um proxy que
    # não existe (127.0.0.1 e localhost são sempre acessados direto) e nomes não são resolvidos
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
# pedidos internos do navegador, que não saem do computador
INTERNAL_SCHEMES = ("data:", "blob:", "about:", "chrome:", "chrome-extension:", "devtools:")


def _find(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    pytest.fail(f"Não achei {' nem '.join(names)}: o teste no navegador precisa do Chromium e do "
                "ChromeDriver do Debian. Instale com `make sysdeps` "
                "(apt-get install chromium chromium-driver).")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # silencioso: sem uma linha por pedido
        pass


@pytest.fixture(scope="module")
def site_url(built_site):
    """Serve o site construído em 127.0.0.1, numa porta livre."""
    html, _ = built_site
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Um Chromium sem interface, com perfil novo e sem acesso à rede."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(_find("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _set_width(driver, width: str) -> None:
    w, h, mobile = WIDTHS[width]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})


def _open(driver, url: str) -> None:
    """Abre a página, descarta os registros anteriores e espera o MathJax terminar."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(url)
    state = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const hasMathJax = [...document.scripts].some(s => s.src.includes('mathjax'));
        const finish = () => {
            if (!hasMathJax) return done('sem MathJax');
            if (!(window.MathJax && MathJax.startup && MathJax.startup.promise))
                return done('o MathJax não carregou');
            MathJax.startup.promise.then(() => done('ok'), e => done('erro: ' + e));
        };
        if (document.readyState === 'complete') finish();
        else window.addEventListener('load', finish);
    """)
    assert state in ("ok", "sem MathJax"), f"{url}: {state}"


def _console_errors(driver) -> list[str]:
    """Erros no console (o pedido automático de /favicon.ico não conta: não é da página)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]]


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _outside(urls: list[str], site_url: str) -> list[str]:
    return sorted({u for u in urls if not u.startswith(site_url)
                   and not u.startswith(INTERNAL_SCHEMES)})


def _screenshot(driver, path: Path, width: str) -> None:
    """Captura a página inteira (até MAX_SCREENSHOT_HEIGHT px): a janela emulada cresce até a
    altura da página, para que o navegador desenhe tudo, e depois volta ao tamanho da tela."""
    w, _, mobile = WIDTHS[width]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": w, "height": min(height, MAX_SCREENSHOT_HEIGHT), "deviceScaleFactor": 1,
        "mobile": mobile})
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    _set_width(driver, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def _record(name: str, values: dict) -> None:
    """Guarda os números da página em _build/screenshots/resumo.json (para o relatório)."""
    path = SCREENSHOTS / "resumo.json"
    summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    summary[name] = values
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")


PAGE_STATE = """
const article = document.querySelector('article.bd-article') || document.body;
const imgs = [...article.querySelectorAll('img')];
const solutions = [...document.querySelectorAll('.solution.dropdown')];
const body = el => [...el.children].filter(c => !c.classList.contains('admonition-title'));
const visible = el => el.checkVisibility({checkVisibilityCSS: true});
return {
    lang: document.documentElement.lang,
    mathSource: article.querySelectorAll('.math').length,
    mathRendered: article.querySelectorAll('mjx-container').length,
    mathErrors: [...article.querySelectorAll('mjx-merror')].map(e => e.textContent),
    images: imgs.length,
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    solutions: solutions.length,
    openSolutions: solutions.filter(s => body(s).some(visible)).map(s => s.id),
    openCodeToggles: [...article.querySelectorAll('details.hide')].filter(d => d.open).length,
    scrollWidth: document.documentElement.scrollWidth,
    bytes: [...performance.getEntriesByType('navigation'),
            ...performance.getEntriesByType('resource')]
        .reduce((total, entry) => total + (entry.encodedBodySize || 0), 0),
};
"""

CLICK_FIRST_SOLUTION = """
const solution = document.querySelector('.solution.dropdown');
const body = [...solution.children].filter(c => !c.classList.contains('admonition-title'));
solution.querySelector('.admonition-title').click();
return body.length > 0 && body.every(c => c.checkVisibility({checkVisibilityCSS: true}));
"""


@pytest.mark.parametrize("page", toc_files(), ids=lambda name: Path(name).name)
def test_page_in_the_browser(browser, site_url, page):
    url = f"{site_url}{page}.html"
    name = Path(page).name
    requested: list[str] = []
    for width in WIDTHS:
        _set_width(browser, width)
        _open(browser, url)
        state = browser.execute_script(PAGE_STATE)
        errors = _console_errors(browser)
        requested += _requested_urls(browser)
        _screenshot(browser, SCREENSHOTS / f"{name}-{width}.png", width)

        where = f"{name} ({width} px)"
        assert not errors, f"{where}: erros no console:\n" + "\n".join(errors)
        assert state["lang"] == "pt-BR"
        if state["mathSource"]:
            assert state["mathRendered"] >= state["mathSource"] > 0, (
                f"{where}: {state['mathSource']} fórmulas no HTML, "
                f"{state['mathRendered']} desenhadas pelo MathJax")
        assert not state["mathErrors"], f"{where}: erros do MathJax: {state['mathErrors']}"
        assert not state["brokenImages"], f"{where}: imagens que não carregaram: " + \
            ", ".join(state["brokenImages"])
        assert not state["openSolutions"], f"{where}: soluções abertas: {state['openSolutions']}"
        assert state["openCodeToggles"] == 0, f"{where}: código de solução visível"
        # comparado com a largura emulada, não com window.innerWidth: no modo celular o
        # Chromium afasta o zoom para caber a página, e innerWidth cresce junto com ela
        overflow = state["scrollWidth"] - WIDTHS[width][0]
        assert overflow <= 1, f"{where}: a página rola na horizontal ({overflow} px a mais)"

    if state["solutions"]:
        assert browser.execute_script(CLICK_FIRST_SOLUTION), (
            f"{name}: a solução não abriu com um clique")
    if Path(page).name.startswith(tuple("0123456789")):
        assert state["images"] > 0 and state["mathRendered"] > 0 and state["solutions"] >= 4
    requested += _requested_urls(browser)
    _record(name, {key: state[key] for key in ("mathRendered", "images", "solutions", "bytes")})
    assert url in requested
    outside = _outside(requested, site_url)
    assert not outside, f"{name}: pedidos para fora do computador:\n" + "\n".join(outside)


def test_front_page_redirects_to_the_introduction(browser, site_url):
    _set_width(browser, "1280")
    _open(browser, site_url)
    assert browser.current_url == f"{site_url}book/intro.html"
    assert not _console_errors(browser)


def test_network_is_really_blocked(browser, site_url):
    """Controle do próprio teste: um recurso de fora não carrega e aparece no registro."""
    _set_width(browser, "1280")
    _open(browser, f"{site_url}book/intro.html")
    loaded = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const img = new Image();
        img.onload = () => done(true);
        img.onerror = () => done(false);
        img.src = 'https://example.org/figura.png';
    """)
    assert loaded is False
    assert _outside(_requested_urls(browser), site_url) == ["https://example.org/figura.png"]
    browser.get_log("browser")  # o erro esperado não vaza para o próximo teste


@pytest.mark.parametrize(("query", "expected"), [("lesão", "02_conexoes_residuais"),
                                                 ("variância", "03_variancia")])
def test_search_finds_the_right_chapter_first(browser, site_url, query, expected):
    """Digitar na busca do site (servido por http) e apertar Enter leva à página de resultados
    do Sphinx, com o capítulo certo em primeiro lugar."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    _set_width(browser, "1280")
    _open(browser, f"{site_url}book/intro.html")
    visible = [b for b in browser.find_elements(By.CSS_SELECTOR, "button.search-button__button")
               if b.is_displayed()]
    visible[0].click()  # o botão “Buscar” abre o campo de busca do tema
    field = WebDriverWait(browser, 10).until(lambda d: next(
        (f for f in d.find_elements(By.CSS_SELECTOR, "input[name='q']") if f.is_displayed()),
        None))
    field.send_keys(query, Keys.ENTER)
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a"))
    links = [a.get_attribute("href") for a in browser.find_elements(
        By.CSS_SELECTOR, "#search-results ul.search > li > a")]
    assert "search.html" in browser.current_url and links
    assert f"book/{expected}.html" in links[0], links[:5]
    # o trecho do primeiro resultado é texto do capítulo, não os botões nem o sumário lateral
    snippet = WebDriverWait(browser, 30).until(lambda d: next(
        (p.text for p in d.find_elements(By.CSS_SELECTOR, "#search-results ul.search > li p")
         if p.text.strip()), None))
    assert not snippet.lstrip(". ").startswith("pdf") and "Conteúdo" not in snippet, snippet
    assert query.lower() in snippet.lower(), snippet
    assert not _console_errors(browser)


@pytest.mark.parametrize("chapter", [p.stem for p in chapter_notebooks()])
def test_every_chapter_has_colab_binder_and_repository_buttons(browser, site_url, chapter):
    """Os botões de abrir o capítulo apontam para o notebook dele no repositório dos estudantes
    (``repository`` do ``_config.yml``), no ramo configurado. Nada é clicado: só os endereços."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    _open(browser, f"{site_url}/book/{chapter}.html")
    hrefs = browser.execute_script(
        "return [...document.querySelectorAll('.dropdown-launch-buttons a, "
        ".article-header-buttons a')].map(a => a.href)")
    path = f"book/{chapter}.ipynb"
    assert (f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"
            in hrefs), hrefs
    assert any(h.startswith(f"https://mybinder.org/v2/gh/{repo}/{branch}?") and path in h
               for h in hrefs), hrefs
    assert f"https://github.com/{repo}" in hrefs, hrefs


# as figuras interativas de cada capítulo (issue 30; residuais.interactive)
INTERACTIVE_FIGURES = {"02_conexoes_residuais": 1, "03_variancia": 1, "06_fluxo_residual": 1}


def _retorno(section) -> str:
    from selenium.webdriver.common.by import By

    return section.find_element(By.CSS_SELECTOR, ".aa-retorno").text.strip()


@pytest.mark.parametrize("chapter", [p.stem for p in chapter_notebooks()])
def test_self_check_questions_work_by_keyboard_without_network(browser, site_url, chapter):
    """Cada capítulo tem de 4 a 6 perguntas de autoavaliação. Só pelo teclado (espaço marca a
    opção, Enter confere), cada opção dá o seu retorno — a certa diz “Certo”, as erradas “Ainda
    não”, e cada uma traz a sua explicação — na região que o leitor de tela anuncia; nas
    numéricas, a resposta com vírgula decimal é aceita, cada erro comum tem o seu retorno e texto
    que não é número é recusado com uma mensagem."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _set_width(browser, "390")
    _open(browser, f"{site_url}book/{chapter}.html")
    quizzes = browser.find_elements(By.CSS_SELECTOR, "section.autoavaliacao")
    assert 4 <= len(quizzes) <= 6, f"{chapter}: {len(quizzes)} perguntas de autoavaliação"
    kinds = set()
    for quiz in quizzes:
        title = quiz.find_element(By.CSS_SELECTOR, ".aa-titulo").text
        box = quiz.find_element(By.CSS_SELECTOR, ".aa-retorno")
        assert box.get_attribute("role") == "status" and box.get_attribute("aria-live") == "polite"
        assert not quiz.find_element(By.CSS_SELECTOR, "details.aa-resposta").get_attribute("open")
        kind = quiz.get_attribute("data-tipo")
        kinds.add(kind)
        if kind == "escolha":
            options = quiz.find_elements(By.CSS_SELECTOR, ".aa-opcao input[type=radio]")
            assert 2 <= len(options) <= 8
            seen = set()
            for option in options:
                option.send_keys(Keys.SPACE)
                option.send_keys(Keys.ENTER)
                letter = option.get_attribute("value")
                correct = quiz.find_element(
                    By.CSS_SELECTOR, f'.aa-explicacao[data-opcao="{letter}"]'
                ).get_attribute("data-correta") == "sim"
                text = _retorno(quiz)
                expected = "Certo" if correct else "Ainda não"
                assert text.startswith(expected), f"{title} ({letter}): {text!r}"
                explanation = text.split("\n", 1)[1:]  # o veredito e, abaixo, a explicação
                assert explanation and len(explanation[0]) > 20, f"{title} ({letter}): sem porquê"
                seen.add(text)
            assert len(seen) == len(options), f"{title}: duas opções com o mesmo retorno"
        else:
            field = quiz.find_element(By.CSS_SELECTOR, "input.aa-valor")
            answer = float(quiz.get_attribute("data-resposta"))

            def submit(value: str, field=field, quiz=quiz) -> str:
                field.clear()
                field.send_keys(value, Keys.ENTER)
                return _retorno(quiz)

            assert submit(f"{answer:g}".replace(".", ",")).startswith("Certo"), title
            assert submit("não sei").startswith("Escreva um número"), title
            for mistake in quiz.find_elements(By.CSS_SELECTOR, '[data-papel="erro-comum"]'):
                value = float(mistake.get_attribute("data-valor"))
                assert "engano comum" in submit(f"{value:g}"), f"{title}: {value}"
    assert kinds == {"escolha", "numero"}, f"{chapter}: faltam perguntas de um dos tipos: {kinds}"
    assert not _console_errors(browser)
    outside = _outside(_requested_urls(browser), site_url)
    assert not outside, outside


@pytest.mark.parametrize("chapter", sorted(INTERACTIVE_FIGURES))
def test_interactive_figures_change_with_every_control(browser, site_url, chapter):
    """Cada controle de cada figura interativa, acionado pelo teclado, troca o estado, o desenho
    e a leitura do estado (a região aria-live); a imagem de reserva tem texto alternativo e some
    quando o programa roda. Capturas em _build/screenshots/figura-<capítulo>-<n>-<largura>.png."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    for width in WIDTHS:
        _set_width(browser, width)
        _open(browser, f"{site_url}book/{chapter}.html")
        figures = browser.find_elements(By.CSS_SELECTOR, "figure.figura-interativa")
        assert len(figures) == INTERACTIVE_FIGURES[chapter]
        for n, figure in enumerate(figures, start=1):
            fallback = figure.find_element(By.CSS_SELECTOR, "img.fi-estatica")
            assert len(fallback.get_attribute("alt")) > 40 and not fallback.is_displayed()
            drawing = figure.find_element(By.CSS_SELECTOR, ".fi-desenho")
            assert drawing.find_elements(By.TAG_NAME, "svg") and drawing.size["width"] <= int(width)
            browser.execute_script("arguments[0].scrollIntoView()", figure)
            figure.screenshot(str(SCREENSHOTS / f"figura-{chapter}-{n}-{width}.png"))
            if width != "1280":
                continue
            inputs = figure.find_elements(By.CSS_SELECTOR, ".fi-controles input")
            assert inputs
            for control in inputs:
                before = (figure.get_attribute("data-estado"), drawing.get_attribute("innerHTML"))
                reading = figure.find_element(By.CSS_SELECTOR, ".fi-leitura").text
                if control.get_attribute("type") == "radio" and control.is_selected():
                    continue  # já marcada: o espaço não muda nada
                control.send_keys(Keys.SPACE)
                after = (figure.get_attribute("data-estado"), drawing.get_attribute("innerHTML"))
                assert after[0] != before[0] and after[1] != before[1], (
                    f"{chapter}, figura {n}: o controle {control.get_attribute('name')} = "
                    f"{control.get_attribute('value')} não mudou a figura")
                assert figure.find_element(By.CSS_SELECTOR, ".fi-leitura").text != reading
    assert not _console_errors(browser)
    assert not _outside(_requested_urls(browser), site_url)


@pytest.mark.parametrize("chapter", sorted(INTERACTIVE_FIGURES))
def test_without_javascript_figures_and_answers_are_still_there(browser, site_url, chapter):
    """Sem JavaScript: a imagem de reserva aparece no lugar da figura interativa (cujos controles
    ficam escondidos) e a resposta comentada de cada pergunta abre com um clique."""
    from selenium.webdriver.common.by import By

    _set_width(browser, "1280")
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(f"{site_url}book/{chapter}.html")
        for figure in browser.find_elements(By.CSS_SELECTOR, "figure.figura-interativa"):
            image = figure.find_element(By.CSS_SELECTOR, "img.fi-estatica")
            assert image.is_displayed() and image.get_attribute("naturalWidth") != "0"
            assert not figure.find_element(By.CSS_SELECTOR, ".fi-interativa").is_displayed()
        quizzes = browser.find_elements(By.CSS_SELECTOR, "section.autoavaliacao")
        assert quizzes
        for quiz in quizzes:
            details = quiz.find_element(By.CSS_SELECTOR, "details.aa-resposta")
            details.find_element(By.TAG_NAME, "summary").click()
            assert details.find_element(By.CSS_SELECTOR, ".aa-explicacao").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
