"""Ferramentas do professor e de quem desenvolve o curso, fora do pacote ``residuais``.

- ``coursetools.book``: a estrutura do livro (raiz, documentos e capítulos do ``_toc.yml``);
- ``coursetools.build``: a construção do site com o Jupyter Book (``python -m coursetools.build``);
- ``coursetools.bench``: o tempo dos capítulos e do site contra os orçamentos
  (``python -m coursetools.bench``);
- ``coursetools.coursework``: a liberação e a correção dos trabalhos
  (``python -m coursetools.coursework release|grade``);
- ``coursetools.cli``: o analisador da linha de comando com as mensagens em português.
"""
