from setuptools import find_packages, setup

setup(
    name="greenpylm",
    version="0.1.0",
    description="A cooperative (gevent + zmq.green) runtime for clusters of small servers, "
    "compatible with pylm's API",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["greenpylm", "greenpylm.*"]),
    python_requires=">=3.11",
    install_requires=[line.strip() for line in open("requirements.txt") if line.strip()],
    extras_require={
        "progress": ["tqdm>=4"],
        "test": ["pytest>=7", "pytest-timeout>=2.1", "hypothesis>=6", "tqdm>=4"],
    },
    entry_points={"console_scripts": ["greenpylm = greenpylm.cli:main"]},
    license="MIT",
)
