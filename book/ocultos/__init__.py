"""Testes ocultos dos exercícios de programação, só para o corretor."""
