"""Figuras interativas calculadas de antemão: o leitor mexe nos controles e a figura troca de
estado, numa página estática, sem núcleo (*kernel*) e sem rede.

Uma célula do capítulo calcula a visão de cada estado (cada combinação dos controles), e
:class:`InteractiveFigure` grava tudo no HTML da saída: os dados em JSON, os controles (botões de
opção e caixas de seleção nativos, que funcionam pelo teclado e com leitor de tela), um pequeno
programa em JavaScript que desenha a visão escolhida em SVG e uma imagem PNG de reserva, que é o
que aparece no PDF e para quem lê sem JavaScript.
"""

from residuais.interactive.controls import Choice, Subset, Toggle
from residuais.interactive.figure import InteractiveFigure
from residuais.interactive.views import BarPlot, HeatMap, LinePlot, Series

__all__ = ["BarPlot", "Choice", "HeatMap", "InteractiveFigure", "LinePlot", "Series", "Subset",
           "Toggle"]
