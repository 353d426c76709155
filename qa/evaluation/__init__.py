"""The eval suite: faithfulness, citations, correctness, retrieval, refusals and a validated judge."""
