// O trecho de cada resultado da busca sai do texto da página, não dos botões do cabeçalho
// (“.pdf”), do sumário lateral ou de impressão (“Conteúdo”) nem da navegação: o searchtools.js
// do Sphinx tira o texto do bloco [role=main] inteiro, que no tema inclui tudo isso.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return; // só a página de busca carrega o searchtools.js
  const original = Search.htmlToText;
  const chrome = ".bd-header-article, .bd-sidebar-secondary, .onlyprint, .prev-next-area, " +
    ".bd-footer-article";
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(chrome).forEach((element) => element.remove());
    return original(page.documentElement.outerHTML, anchor);
  };
});
