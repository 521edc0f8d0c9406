from .encoder_decoder import RGBDEncoderDecoder

__all__ = ['RGBDEncoderDecoder']
