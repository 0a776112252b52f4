"""The other branch: it logs and returns nothing, so the message goes no further."""
import logging

from greenpylm.servers import Pipeline


class MyPipeline(Pipeline):
    def foo(self, message):
        self.logger.warning('Just echo, nothing else')


if __name__ == '__main__':
    MyPipeline('my_pipeline', db_address='tcp://127.0.0.1:5570',
               sub_address='tcp://127.0.0.1:5557', pub_address='tcp://127.0.0.1:5571',
               previous='my_server', to_client=True, log_level=logging.DEBUG).start()
