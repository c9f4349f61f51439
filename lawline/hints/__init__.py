"""Statute hints: the articles a conversation turns on, from what the citizen said.

- `segment.py`: Chinese word segmentation (jieba) with a legal dictionary from the pack
- `phrases.py`: how people talk -> how the law is written
- `citation.py`: citations (《劳动合同法》第三十八条) read from eval files and heard in speech
- `index.py`: BM25 over every article, boosted by the contact's legal domain
- `service.py`: the index kept in step with the knowledge base; hints with their text
- `evaluate.py`: recall and latency on a question set (`lawline hints eval`)
"""
